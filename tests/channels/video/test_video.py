"""The video channel's API with aiortc peers on both sides (real WebRTC over loopback, real
Redis): edge validation with Chinese messages, the concurrency and duration limits, roles and
the sign_language capability, a session served by two instances, idempotent intake, masked logs."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from redis.asyncio import Redis

from channels.video import adapter
from channels.video import keys as video_keys
from channels.video.sessions import Sessions
from gateway import clock, keys
from gateway.intake import Intake
from tests.support.desk import login
from tests.support.video import add_desk_user, offer, start_citizen

PHONE = "13812345678"


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
    return result


@pytest.fixture
async def video_app(make_app, redis_url: str) -> Callable[..., Awaitable[str]]:
    async def start(**overrides: Any) -> str:
        return await make_app(**{"video": True, "ticket_prefix": "VA", **overrides})
    await add_desk_user(redis_url, "signer", "agent", sign_language=True)
    await add_desk_user(redis_url, "plain", "agent")
    await add_desk_user(redis_url, "editor", "kb_editor")
    return start


@pytest.fixture
async def peers() -> Any:
    opened: list[RTCPeerConnection] = []
    yield opened
    for pc in opened:
        await pc.close()


class Frames:
    """Counts the frames an aiortc peer receives on a track."""

    def __init__(self) -> None:
        self.count = 0
        self.widest = 0
        self.tasks: list[asyncio.Task[None]] = []

    def watch(self, track: MediaStreamTrack) -> None:
        async def pump() -> None:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                if track.kind == "video":
                    self.count += 1
                    self.widest = max(self.widest, frame.width)
        self.tasks.append(asyncio.create_task(pump()))


async def accept_as(base: str, session_id: str, username: str, peers: list) -> tuple[aiohttp.ClientSession, str, Frames, dict]:
    http, csrf = await login(base, username)
    pc = RTCPeerConnection()
    peers.append(pc)
    frames = Frames()
    pc.on("track", frames.watch)
    sdp = await offer(pc)
    async with http.post(f"{base}/api/v1/agent/video/sessions/{session_id}/accept", json={"type": "offer", "sdp": sdp},
                         headers={"X-CSRF-Token": csrf}) as r:
        body = await r.json()
        assert r.status == 200, body
    await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))
    return http, csrf, frames, body


async def test_offers_are_checked_at_the_edge(video_app, http: aiohttp.ClientSession, redis_url: str) -> None:
    base = await video_app()
    url = f"{base}/api/v1/video/sessions"
    async with http.post(url, data="v=0", headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415 and (await r.json())["error"] == "unsupported_media_type"
    async with http.post(url, json={"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 5000}) as r:
        body = await r.json()
        assert r.status == 413 and body["error"] == "body_too_large" and body["message"] == "提交的内容过大"
    async with http.post(url, json={"type": "offer", "sdp": "hello, this is no SDP"}) as r:
        body = await r.json()
        assert r.status == 422 and body["error"] == "invalid_offer" and "摄像头" in body["message"]
    async with http.post(url, json={"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"}) as r:
        assert r.status == 422 and (await r.json())["error"] == "invalid_offer"  # audio alone is not a video session
    pc = RTCPeerConnection()
    try:
        async with http.post(url, json={"type": "offer", "sdp": await offer(pc), "phone": "12345"}) as r:
            body = await r.json()
            assert r.status == 422 and body["fields"] == [{"field": "phone", "code": "value_error", "message": "请填写11位手机号或带区号的固定电话"}]
    finally:
        await pc.close()
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.zcard(video_keys.ACTIVE) == 0  # refused offers hold no place
        assert await redis.zcard(keys.RECENT_TICKETS) == 0
    finally:
        await redis.aclose()


async def test_concurrent_sessions_are_limited_with_a_clear_message(video_app, http: aiohttp.ClientSession, peers: list) -> None:
    base = await video_app(video_max_sessions=1)
    pc, first = await start_citizen(http, base)
    peers.append(pc)
    second = RTCPeerConnection()
    peers.append(second)
    async with http.post(f"{base}/api/v1/video/sessions", json={"type": "offer", "sdp": await offer(second)}) as r:
        body = await r.json()
        assert r.status == 503 and body["error"] == "video_busy" and "已满" in body["message"]
        assert r.headers["Retry-After"] == "60"
    async with http.post(f"{base}/api/v1/video/sessions/{first['session_id']}/end", json={}, headers={"X-Video-Token": first["token"]}) as r:
        assert r.status == 200
    pc3, third = await start_citizen(http, base)
    peers.append(pc3)
    assert third["position"] == 1


async def test_chat_and_tokens(video_app, http: aiohttp.ClientSession, peers: list) -> None:
    base = await video_app()
    pc, s = await start_citizen(http, base)
    peers.append(pc)
    url = f"{base}/api/v1/video/sessions/{s['session_id']}/messages"
    async with http.post(url, json={"text": "你好"}) as r:
        assert r.status == 401 and (await r.json())["error"] == "video_token_missing"
    async with http.post(url, json={"text": "你好"}, headers={"X-Video-Token": "x" * 32}) as r:
        assert r.status == 404 and (await r.json())["error"] == "video_session_not_found"
    async with http.post(url, json={"text": "长" * 501}, headers={"X-Video-Token": s["token"]}) as r:
        body = await r.json()
        assert r.status == 422 and body["fields"][0]["code"] == "too_long" and body["message"] == "消息不能为空，且不超过500字"
    async with http.post(url, json={"text": "   "}, headers={"X-Video-Token": s["token"]}) as r:
        assert r.status == 422
    async with http.post(url, json={"text": "排队时先说一下：小区门口积水"}, headers={"X-Video-Token": s["token"]}) as r:
        assert r.status == 201 and (await r.json())["who"] == "citizen"
    async with http.get(f"{base}/api/v1/video/sessions/{s['session_id']}", headers={"X-Video-Token": s["token"]}) as r:
        view = await r.json()
        assert view["status"] == "queued" and view["position"] == 1 and view["chat"][0]["text"].startswith("排队时")


async def test_agent_routes_need_a_sign_language_agent(video_app, http: aiohttp.ClientSession, peers: list) -> None:
    base = await video_app()
    pc, s = await start_citizen(http, base)
    peers.append(pc)
    accept = f"{base}/api/v1/agent/video/sessions/{s['session_id']}/accept"
    async with http.get(f"{base}/api/v1/agent/video/sessions") as r:
        assert r.status == 401
    editor, editor_csrf = await login(base, "editor")
    plain, plain_csrf = await login(base, "plain")
    signer, _ = await login(base, "signer")
    try:
        async with editor.get(f"{base}/api/v1/agent/video/sessions") as r:
            assert r.status == 403 and (await r.json())["error"] == "forbidden"
        async with plain.get(f"{base}/api/v1/agent/video/sessions") as r:
            body = await r.json()
            assert r.status == 200 and body["sign_language"] is False and body["waiting"] == []
        async with plain.post(accept, json={"type": "offer", "sdp": "v=0 x" * 3}, headers={"X-CSRF-Token": plain_csrf}) as r:
            body = await r.json()
            assert r.status == 403 and body["error"] == "not_sign_language_agent" and "手语" in body["message"]
        async with signer.post(accept, json={"type": "offer", "sdp": "v=0 x" * 3}) as r:
            assert r.status == 403 and (await r.json())["error"] == "csrf_failed"
        async with signer.get(f"{base}/api/v1/agent/video/sessions") as r:
            body = await r.json()
            assert body["sign_language"] is True and [w["session_id"] for w in body["waiting"]] == [s["session_id"]]
    finally:
        for session in (editor, plain, signer):
            await session.close()


async def test_decline_hides_the_request_from_that_agent_only(video_app, http: aiohttp.ClientSession, peers: list, redis_url: str) -> None:
    base = await video_app()
    await add_desk_user(redis_url, "signer2", "agent", sign_language=True)
    pc, s = await start_citizen(http, base)
    peers.append(pc)
    one, csrf = await login(base, "signer")
    two, _ = await login(base, "signer2")
    try:
        async with one.post(f"{base}/api/v1/agent/video/sessions/{s['session_id']}/decline", json={}, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200
        async with one.get(f"{base}/api/v1/agent/video/sessions") as r:
            assert (await r.json())["waiting"] == []
        async with two.get(f"{base}/api/v1/agent/video/sessions") as r:
            assert len((await r.json())["waiting"]) == 1
    finally:
        await one.close()
        await two.close()


async def test_a_session_held_by_one_instance_is_served_from_another(make_app, video_app, http: aiohttp.ClientSession, peers: list) -> None:
    a = await video_app(instance_id="gw-a")
    b = await make_app(video=True, ticket_prefix="VA", instance_id="gw-b")
    pc, s = await start_citizen(http, a, phone=PHONE)
    peers.append(pc)
    citizen_frames = Frames()
    for transceiver in pc.getTransceivers():
        citizen_frames.watch(transceiver.receiver.track)
    agent, csrf, agent_frames, answer = await accept_as(b, s["session_id"], "signer", peers)  # accepted through B
    try:
        assert answer["session"]["status"] == "connected"
        await eventually(lambda: asyncio.sleep(0, agent_frames.count >= 10))  # the citizen's picture, relayed by A
        await eventually(lambda: asyncio.sleep(0, citizen_frames.count >= 10))  # the agent's picture, back through A
        async with agent.post(f"{b}/api/v1/agent/video/sessions/{s['session_id']}/messages", json={"text": "您好"}, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 201
        async with agent.post(f"{b}/api/v1/agent/video/sessions/{s['session_id']}/end", json={}, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200, await r.text()

        async def filed() -> dict | None:
            async with agent.get(f"{b}/api/v1/agent/tickets/{s['ticket_id']}") as r:
                t = await r.json()
            return t if any(e["event"] == "video_ended" for e in t["history"]) else None
        ticket = await eventually(filed)
        assert {a["kind"] for a in ticket["attachments"]} == {"video", "document"}
        assert ticket["messages"][0]["text"] == "您好"
    finally:
        await agent.close()


async def test_sessions_end_at_the_maximum_length(video_app, http: aiohttp.ClientSession, peers: list) -> None:
    base = await video_app(video_max_session_seconds=1.5)
    pc, s = await start_citizen(http, base)
    peers.append(pc)
    agent, _, _, _ = await accept_as(base, s["session_id"], "signer", peers)
    try:
        async def ended() -> dict | None:
            async with http.get(f"{base}/api/v1/video/sessions/{s['session_id']}", headers={"X-Video-Token": s["token"]}) as r:
                view = await r.json()
            return view if view["status"] == "ended" else None
        view = await eventually(ended, timeout=30)
        assert view["end_reason"] == "max_duration"
    finally:
        await agent.close()


async def test_the_citizen_page_hears_of_an_end_it_reads_before_the_ended_event(video_app, http: aiohttp.ClientSession, peers: list,
                                                                                 redis_url: str) -> None:
    """A session's end is stored, then published. A page whose event pump reads the ended session
    in between must still be told the end and why; before, it was sent a status it ignores and
    stayed "connected" for good (seen once in a loaded run of the agent-reload browser test)."""
    base = await video_app()
    pc, s = await start_citizen(http, base)
    peers.append(pc)
    url = base.replace("http", "ws", 1) + f"/api/v1/video/sessions/{s['session_id']}/events?token={s['token']}"
    async with http.ws_connect(url) as ws:
        first = await ws.receive_json(timeout=30)
        assert first["type"] == "status" and first["session"]["status"] == "queued"
        redis = Redis.from_url(redis_url)
        try:  # the end as `finish` stores it, before its event is published
            assert await Sessions(redis).end(s["session_id"], "agent_disconnected", "system") == "queued"
        finally:
            await redis.aclose()
        async with asyncio.timeout(30):
            while (event := await ws.receive_json())["type"] != "ended":
                pass
    assert "坐席的视频连接已中断" in event["message"]
    assert event["ticket_id"] == s["ticket_id"]


async def test_intake_is_idempotent_on_the_session_id(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        intake = Intake(redis, "VA")
        first = await intake(adapter.to_ticket("session-123", clock.now(), None))
        again = await intake(adapter.to_ticket("session-123", clock.now(), None))
        assert first.created and not again.created and again.ticket_id == first.ticket_id
    finally:
        await redis.aclose()


async def test_phone_numbers_are_masked_in_logs(video_app, http: aiohttp.ClientSession, peers: list, caplog: pytest.LogCaptureFixture) -> None:
    base = await video_app()
    with caplog.at_level(logging.INFO):
        pc, _ = await start_citizen(http, base, phone=PHONE)
        peers.append(pc)
    records = [r for r in caplog.records if r.getMessage() == "video session queued"]
    assert records and records[0].phone == "138****5678"
    assert all(PHONE not in str(vars(r)) for r in caplog.records)


async def test_sign_language_capability_is_granted_and_revoked(redis_url: str) -> None:
    from gateway.users import UserError, Users
    from server.cli import main

    redis = Redis.from_url(redis_url)
    try:
        users = Users(redis)
        await users.add("wang", "long-enough-password", ["agent"], capabilities=["sign_language"])
        assert await users.with_capability("sign_language") == {"wang"}
        assert await users.set_capability("wang", "sign_language", False)
        assert await users.with_capability("sign_language") == set()
        assert (await users.get("wang"))[0].capabilities == frozenset()
        with pytest.raises(UserError):
            await users.add("li", "long-enough-password", ["agent"], capabilities=["flying"])
    finally:
        await redis.aclose()
    with pytest.raises(SystemExit):  # argparse refuses an unknown capability before touching Redis
        main(["users", "grant", "wang", "flying"])


async def test_the_page_is_chinese_and_keeps_the_csp(video_app, http: aiohttp.ClientSession) -> None:
    import re

    base = await video_app()
    async with http.get(f"{base}/video") as r:
        html = await r.text()
        csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert '<html lang="zh-CN">' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert " style=" not in html and "<style" not in html
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    inputs = set(re.findall(r'<(?:input|textarea)[^>]*\bid="([^"]+)"', html))
    assert inputs <= labelled, inputs - labelled
    for asset in ("/static/video/video.js", "/static/video/video.css"):
        async with http.get(base + asset) as r:
            assert r.status == 200


async def test_a_citizen_leaving_the_queue_abandons_the_ticket(video_app, http: aiohttp.ClientSession, peers: list) -> None:
    base = await video_app()
    pc, s = await start_citizen(http, base)
    peers.append(pc)
    async with http.post(f"{base}/api/v1/video/sessions/{s['session_id']}/end", json={}, headers={"X-Video-Token": s["token"]}) as r:
        assert r.status == 200
    agent, _ = await login(base, "signer")
    try:
        async with agent.get(f"{base}/api/v1/agent/tickets/{s['ticket_id']}") as r:
            ticket = await r.json()
        assert ticket["status"] == "abandoned" and ticket["disposition"]["reason"] == "市民在排队中离开"
        ended = next(e for e in ticket["history"] if e["event"] == "video_ended")
        assert ended["actor"] == "citizen" and ended["detail"]["reason"] == "citizen"
    finally:
        await agent.close()


def test_answers_bound_the_bitrate_and_advertise_only_the_configured_addresses() -> None:
    from channels.video.media import rtc_configuration, shape_answer
    from channels.video.settings import VideoSettings

    sdp = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
           "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=candidate:1 1 udp 1 192.0.2.2 5000 typ host\r\n"
           "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\nb=AS:5000\r\n"
           "a=candidate:1 1 udp 1 192.0.2.2 5002 typ host\r\na=candidate:2 1 udp 1 10.9.9.9 5004 typ host\r\n")
    settings = VideoSettings(video_max_bitrate_kbps=600, video_ice_addresses="192.0.2.2",
                            video_ice_servers="stun:stun.example.cn:3478,turn:turn.example.cn:3478", video_ice_username="u", video_ice_credential="p")
    shaped = shape_answer(sdp, settings).split("\r\n")
    video = shaped[shaped.index("m=video 9 UDP/TLS/RTP/SAVPF 96"):]
    assert "b=AS:600" in video and "b=TIAS:600000" in video and "b=AS:5000" not in shaped
    assert not any("b=" in line for line in shaped[:shaped.index("m=video 9 UDP/TLS/RTP/SAVPF 96")])
    assert [line for line in shaped if "candidate" in line] == ["a=candidate:1 1 udp 1 192.0.2.2 5000 typ host", "a=candidate:1 1 udp 1 192.0.2.2 5002 typ host"]
    servers = rtc_configuration(settings).iceServers
    assert [s.urls for s in servers] == ["stun:stun.example.cn:3478", "turn:turn.example.cn:3478"] and servers[1].credential == "p"


async def test_oversized_video_is_scaled_down_on_the_server(video_app, http: aiohttp.ClientSession, peers: list, tmp_path) -> None:
    from peers.video import Picture
    from tests.support.video import decoded_video_frames

    base = await video_app(video_max_width=320, video_max_height=240)
    pc = RTCPeerConnection()
    peers.append(pc)
    sdp = await offer(pc, Picture(1280, 720, 15))  # more than the page would ever ask for
    async with http.post(f"{base}/api/v1/video/sessions", json={"type": "offer", "sdp": sdp}) as r:
        s = await r.json()
    await pc.setRemoteDescription(RTCSessionDescription(s["answer"]["sdp"], "answer"))
    agent, csrf, frames, _ = await accept_as(base, s["session_id"], "signer", peers)
    await eventually(lambda: asyncio.sleep(0, frames.count >= 10))
    assert frames.widest <= 320  # the agent gets the bounded picture too
    async with agent.post(f"{base}/api/v1/agent/video/sessions/{s['session_id']}/end", json={}, headers={"X-CSRF-Token": csrf}) as r:
        assert r.status == 200
    async with agent.get(f"{base}/api/v1/agent/tickets/{s['ticket_id']}") as r:
        ticket = await r.json()
    video = next(a for a in ticket["attachments"] if a["kind"] == "video")
    async with agent.get(f"{base}/api/v1/agent/blobs/{video['sha256']}") as r:
        (tmp_path / "r.webm").write_bytes(await r.read())
    await agent.close()
    count, width, height = decoded_video_frames(tmp_path / "r.webm")
    assert count >= 5 and width <= 320 and height <= 240, (count, width, height)


async def test_only_the_agent_on_the_session_or_a_supervisor_may_act_on_it(video_app, http: aiohttp.ClientSession, peers: list, redis_url: str) -> None:
    base = await video_app()
    await add_desk_user(redis_url, "boss", "supervisor")
    pc, s = await start_citizen(http, base)
    peers.append(pc)
    agent, _, _, _ = await accept_as(base, s["session_id"], "signer", peers)
    other, other_csrf = await login(base, "plain")
    boss, boss_csrf = await login(base, "boss")
    try:
        url = f"{base}/api/v1/agent/video/sessions/{s['session_id']}"
        async with other.post(f"{url}/messages", json={"text": "你好"}, headers={"X-CSRF-Token": other_csrf}) as r:
            assert r.status == 403 and (await r.json())["error"] == "not_your_video_session"
        async with boss.get(f"{base}/api/v1/agent/video/sessions") as r:
            assert [c["session_id"] for c in (await r.json())["connected"]] == [s["session_id"]]
        async with boss.post(f"{url}/end", json={}, headers={"X-CSRF-Token": boss_csrf}) as r:
            assert r.status == 200
        async with boss.get(url) as r:
            assert (await r.json())["status"] == "ended"
        async with boss.get(f"{base}/api/v1/agent/tickets/{s['ticket_id']}") as r:
            ended = next(e for e in (await r.json())["history"] if e["event"] == "video_ended")
        assert ended["actor"] == "agent:boss"
    finally:
        for session in (agent, other, boss):
            await session.close()
