"""The WeChat official-account channel against a local peer that signs, encrypts and serves
media exactly as WeChat does (its crypto is written independently of wechatpy): every mode,
the message and event types, safe XML, retries and the five-second deadline."""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from channels.wechat import keys as wx_keys
from gateway import keys
from gateway.tickets import Tickets
from peers import wechat as wx
from speech.audio import read_wav
from speech.offline import encode_amr
from tests.support.desk import add_user, login
from tests.support.kb import content, publish_new
from tests.support.media import png
from tests.support.phone import CLIP, CLIP_TEXT
from tests.support.waiting import eventually

OPENID = "oK3x9-ExampleOpenId000000001"
MODES = ["plain", "compat", "safe"]


def configure_account(monkeypatch: pytest.MonkeyPatch, mode: str | None = None) -> wx.Account:
    """A fresh account `main`, its secrets in the environment where the gateway reads them;
    `mode` is HOTLINE_WECHAT_MAIN_MODE (plaintext/compatible/safe; unset: the default, safe)."""
    account = wx.Account.generate()
    for key, value in account.env("main", mode or "safe").items():
        monkeypatch.setenv(key, value)
    if mode is None:
        monkeypatch.delenv("HOTLINE_WECHAT_MAIN_MODE")
    return account


@pytest.fixture
def wechat_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Extra settings for the gateway under test (a test may parametrize it indirectly)."""
    return getattr(request, "param", {})


@pytest.fixture
async def wechat(make_app: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
                 wechat_settings: dict[str, Any]) -> AsyncIterator[tuple[wx.WeChatPeer, str, Redis]]:
    # A test parametrized by push mode gets the account configured in that mode; the others mix
    # modes, which only a compatible-mode account takes.
    mode = getattr(request, "param", None) or getattr(getattr(request.node, "callspec", None), "params", {}).get("mode")
    account = configure_account(monkeypatch, wx.ACCOUNT_MODES[mode] if mode else "compatible")
    peer = wx.WeChatPeer(account, "")
    await peer.start()
    base = await make_app(wechat_accounts="main", wechat_api_base=peer.api_base, ticket_prefix="WX", **wechat_settings)
    peer.gateway_url = f"{base}/wechat/main"
    redis = Redis.from_url(redis_url)
    yield peer, base, redis
    await peer.stop()
    await redis.aclose()


async def stored(redis: Redis) -> set[bytes]:
    """What requests have stored (the workers' stream groups appear on their own at start-up)."""
    return {k for k in await redis.keys("*") if not k.startswith(f"{keys.P}stream:".encode())}


async def wechat_tickets(redis: Redis) -> list[Any]:
    ids = [i.decode() for i in await redis.zrange(keys.RECENT_TICKETS, 0, -1)]
    return [await Tickets(redis).get(i) for i in ids]


async def test_server_verification_echoes_only_with_a_good_signature(wechat) -> None:
    peer, _, _ = wechat
    assert await peer.verify("echo-123") == (200, "echo-123")
    status, _ = await peer.verify("echo-123", bad_signature=True)
    assert status == 403


@pytest.mark.parametrize("mode", MODES)
async def test_text_consultation_gets_a_passive_reply_in_every_mode(wechat, mode: str) -> None:
    peer, base, redis = wechat
    result = await peer.push(wx.text(OPENID, "请问紧急情况打什么电话？着火了", msg_id=24571000000000001), mode=mode)
    result.check()
    assert result.reply is not None and "119" in result.reply["Content"]
    assert result.encrypted == (mode != "plain")
    tickets = await wechat_tickets(redis)
    assert len(tickets) == 1 and tickets[0].channel == "wechat" and tickets[0].requester.wechat_openid == OPENID
    assert tickets[0].status == "diverted"


@pytest.mark.parametrize("mode", MODES)
async def test_bad_signatures_are_refused_and_nothing_is_stored(wechat, mode: str) -> None:
    peer, _, redis = wechat
    before = await stored(redis)
    result = await peer.push(wx.text(OPENID, "小区路灯不亮", msg_id=1), mode=mode, bad_signature=True)
    assert result.status == 403
    if mode != "plain":
        result = await peer.push(wx.text(OPENID, "小区路灯不亮", msg_id=2), mode=mode, bad_msg_signature=True)
        assert result.status == 403
    assert await stored(redis) == before


async def test_three_retries_of_one_message_make_one_ticket_and_one_reply(wechat) -> None:
    peer, _, redis = wechat
    results = await peer.push_with_retries(wx.text(OPENID, "居住证怎么办理", msg_id=24571000000000009), mode="safe", retries=3)
    replies = [r for r in results if r.reply is not None]
    assert len(results) == 4 and len(replies) == 1
    assert all(r.is_success_literal for r in results if r.reply is None)
    assert len(await wechat_tickets(redis)) == 1


@pytest.mark.parametrize("body, code", [
    (b"<xml><ToUserName>a</ToUserName>", "malformed_xml"),
    (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>', "malformed_xml"),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
     b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><xml><Content>&lol3;</Content></xml>', "malformed_xml"),
    ("<xml><Content>小区</Content></xml>".encode("gbk"), "bad_encoding"),
])
async def test_malformed_and_hostile_xml_is_refused_with_400(wechat, body: bytes, code: str) -> None:
    peer, base, redis = wechat
    before = await stored(redis)
    status, text = await peer.push_raw(body, peer.signed_query("plain", openid=OPENID))
    assert status == 400 and code in text
    assert await stored(redis) == before


async def test_an_oversized_body_is_refused_with_413(wechat) -> None:
    peer, _, redis = wechat
    before = await stored(redis)
    big = wx.text(OPENID, "很长" * 40_000, msg_id=3).encode()
    status, text = await peer.push_raw(big, peer.signed_query("plain", openid=OPENID))
    assert status == 413 and "payload_too_large" in text
    assert await stored(redis) == before


async def test_report_flow_collects_description_place_phone_and_pictures(wechat) -> None:
    peer, _, redis = wechat
    peer.add_media("media-pic-1", png(), "image/png")
    start = await peer.push(wx.event(OPENID, "CLICK", EventKey="MENU_REPORT"), mode="safe")
    assert "描述" in start.reply["Content"]
    pic = await peer.push(wx.image(OPENID, peer.pic_url("nothing-there"), "media-pic-1", msg_id=11), mode="safe")
    assert "图片" in pic.reply["Content"]
    ask_place = await peer.push(wx.text(OPENID, "楼下餐馆油烟很大，晚上十点以后还在营业", msg_id=12), mode="safe")
    assert "位置" in ask_place.reply["Content"]
    ask_phone = await peer.push(wx.location(OPENID, 39.9042, 116.4074, 15, "东城区东华门街道示例路1号", msg_id=13), mode="safe")
    assert "手机" in ask_phone.reply["Content"]
    bad = await peer.push(wx.text(OPENID, "12345", msg_id=14), mode="safe")
    assert "不完整" in bad.reply["Content"]
    filed = await peer.push(wx.text(OPENID, "13812345678", msg_id=15), mode="safe")
    assert "工单号 WX-" in filed.reply["Content"]
    tickets = [t for t in await wechat_tickets(redis) if t.source.extra.get("mode") != "chat"]
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket.content.startswith("楼下餐馆油烟") and ticket.requester.phone == "+8613812345678"
    assert ticket.location is not None and ticket.location.district == "东城区" and ticket.location.latitude == pytest.approx(39.9042)
    assert [a.kind for a in ticket.attachments] == ["image"] and ticket.attachments[0].size == len(png())
    progress = await peer.push(wx.event(OPENID, "CLICK", EventKey="MENU_PROGRESS"), mode="safe")
    assert ticket.id in progress.reply["Content"]
    # Filed means sent on: the case hop is delivered (to the local inbox here), once.
    delivered = await eventually(lambda: Tickets(redis).get(ticket.id), lambda t: any(d.outcome == "delivered" for d in t.deliveries))
    assert [d.hop for d in delivered.deliveries] == ["case"]
    assert [m.text for m in delivered.messages] == ["楼下餐馆油烟很大，晚上十点以后还在营业", "12345", "13812345678"]


async def test_a_report_of_a_fire_gets_what_a_form_gets(wechat, make_app: Any, redis_url: str) -> None:
    """A WeChat 我要反映 goes through triage like a web form: 119 told at once, emergency urgency
    and deadline with provenance, a topic and handling unit, and the case system gets it."""
    peer, base, redis = wechat
    await peer.push(wx.event(OPENID, "CLICK", EventKey="MENU_REPORT"), mode="safe")
    await peer.push(wx.text(OPENID, "我家楼下的饭馆后厨着火了，烟很大", msg_id=41), mode="safe")
    await peer.push(wx.text(OPENID, "朝阳区望京街道花家地北里", msg_id=42), mode="safe")
    filed = await peer.push(wx.text(OPENID, "13812345678", msg_id=43), mode="safe")
    assert "119" in filed.reply["Content"] and "工单号 WX-" in filed.reply["Content"]
    report = next(t for t in await wechat_tickets(redis) if t.source.extra.get("mode") == "collecting")
    delivered = await eventually(lambda: Tickets(redis).get(report.id), lambda t: any(d.outcome == "delivered" for d in t.deliveries))
    assert delivered.urgency == "emergency" and delivered.due_at < delivered.received_at + timedelta(hours=3)
    assert {p.field for p in delivered.provenance} >= {"urgency", "dispatch"}
    assert delivered.dispatch is not None and delivered.dispatch.unit is not None

    form = await make_app(ticket_prefix="WF")  # the same text through the web form, for comparison
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{form}/api/v1/requests", json={"kind": "unsure", "description": "我家楼下的饭馆后厨着火了，烟很大",
                                                             "district": "朝阳区", "phone": "13812345678"}) as r:
            form_id = (await r.json())["ticket_id"]
    web = await eventually(lambda: Tickets(redis).get(form_id), lambda t: any(d.outcome == "delivered" for d in t.deliveries))
    assert (web.urgency, web.kind) == (delivered.urgency, delivered.kind)
    assert web.dispatch is not None and web.dispatch.category == delivered.dispatch.category


@pytest.mark.parametrize("wechat_settings", [{"wechat_draft_sweep_seconds": 0.2}], indirect=True)
async def test_an_abandoned_report_draft_is_closed_with_its_reason(wechat) -> None:
    peer, base, redis = wechat
    await peer.push(wx.event(OPENID, "CLICK", EventKey="MENU_REPORT"), mode="safe")
    await peer.push(wx.text(OPENID, "小区门口的路灯坏了", msg_id=51), mode="safe")
    report = next(t for t in await wechat_tickets(redis) if t.source.extra.get("mode") == "collecting")
    # The draft's deadline passes (moved into the past instead of waiting 30 minutes).
    await redis.zadd(wx_keys.OPEN_DRAFTS, {report.id: 1})
    closed = await eventually(lambda: Tickets(redis).get(report.id), lambda t: t.status == "abandoned")
    assert closed.disposition is not None and "过期" in closed.disposition.reason
    assert [m.text for m in closed.messages] == ["小区门口的路灯坏了"]  # what they said is kept


async def test_events_subscribe_weather_menu_and_silent_ones(wechat, redis_url: str) -> None:
    peer, base, redis = wechat
    welcome = await peer.push(wx.event(OPENID, "subscribe"), mode="compat")
    assert "我要反映" in welcome.reply["Content"] and "查询进度" in welcome.reply["Content"]
    await add_user(redis_url, "ed", "kb_editor")
    await add_user(redis_url, "rv", "kb_reviewer")
    editor, reviewer = await login(base, "ed"), await login(base, "rv")
    await publish_new(editor, reviewer, base, "kb-menu-flood-001", content("防汛与极端天气专栏", ["防汛专栏"], "暴雨预警期间请远离河道和地下空间，测试答复。"))
    await editor[0].close()
    await reviewer[0].close()
    for _ in range(50):
        weather = await peer.push(wx.event(OPENID, "CLICK", EventKey="MENU_WEATHER", create_time=1718000100 + _), mode="plain")
        if weather.reply and "测试答复" in weather.reply["Content"]:
            break
    assert "测试答复" in weather.reply["Content"]
    for silent in (wx.event(OPENID, "VIEW", EventKey="https://12345.beijing.gov.cn/"), wx.event(OPENID, "unsubscribe"),
                   wx.event(OPENID, "LOCATION", Latitude=39.9, Longitude=116.4, Precision=30.0)):
        result = await peer.push(silent, mode="safe")
        assert result.status == 200 and result.is_success_literal
    scan = await peer.push(wx.event(OPENID, "SCAN", EventKey="123", Ticket="T-1"), mode="plain")
    assert "12345" in scan.reply["Content"]


async def test_voice_with_recognition_and_link_messages_reach_the_bot(wechat) -> None:
    peer, _, redis = wechat
    voice = await peer.push(wx.voice(OPENID, "media-voice-1", msg_id=21, recognition="着火了快来人"), mode="safe")
    assert "119" in voice.reply["Content"]
    link = await peer.push(wx.link(OPENID, "小区门口积水", "下雨后积水很深", "https://example.org/a", msg_id=22), mode="safe")
    assert link.reply is not None
    tickets = await wechat_tickets(redis)
    assert any(m.source == "wechat-recognition" and m.text == "着火了快来人" for t in tickets for m in t.messages)


async def test_voice_without_recognition_is_transcribed_from_the_amr_media(wechat) -> None:
    peer, _, redis = wechat
    clip = read_wav(CLIP)
    peer.add_media("media-voice-2", encode_amr(clip.samples, clip.rate), "audio/amr")
    result = await peer.push(wx.voice(OPENID, "media-voice-2", msg_id=31), mode="safe")
    assert result.status == 200 and result.error is None
    if result.reply is None:  # transcription outran the passive-reply budget: the answer came as a 客服消息
        await peer.wait_sent(lambda m: m["touser"] == OPENID, timeout=30)
    tickets = await wechat_tickets(redis)
    heard = [m for t in tickets for m in t.messages if m.source == "asr"]
    assert [m.text for m in heard] == [CLIP_TEXT]


async def test_an_answer_past_the_budget_goes_as_a_customer_service_message(make_app: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    account = configure_account(monkeypatch)
    async with wx.WeChatPeer(account, "") as peer:
        base = await make_app(wechat_accounts="main", wechat_api_base=peer.api_base, wechat_reply_budget_seconds=0.0)
        peer.gateway_url = f"{base}/wechat/main"
        peer.invalidate_token()  # the first send finds a stale token: refresh once, then deliver
        result = await peer.push(wx.text(OPENID, "着火了", msg_id=41), mode="safe")
        assert result.status == 200 and result.is_success_literal and result.reply is None
        sent = await peer.wait_sent(lambda m: m["touser"] == OPENID)
        assert sent["msgtype"] == "text" and "119" in sent["text"]["content"]
        retried = await peer.push_with_retries(wx.text(OPENID, "着火了", msg_id=41), mode="safe", retries=2)
        assert all(r.is_success_literal for r in retried)
        assert len([m for m in peer.sent if m["touser"] == OPENID]) == 1  # one reply, whatever WeChat retries
        redis = Redis.from_url(redis_url)
        try:
            ticket = (await wechat_tickets(redis))[0]
            assert [(d.hop.split(":")[0], d.outcome) for d in ticket.deliveries] == [("wx-reply", "delivered")]
        finally:
            await redis.aclose()


async def test_late_answers_wait_out_an_outage_and_stop_at_a_closed_window(make_app: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    account = configure_account(monkeypatch)
    redis = Redis.from_url(redis_url)
    async with wx.WeChatPeer(account, "") as peer:
        base = await make_app(wechat_accounts="main", wechat_api_base=peer.api_base, wechat_reply_budget_seconds=0.0,
                              outbox_backoff_base_seconds=0.05, outbox_backoff_cap_seconds=0.2)
        peer.gateway_url = f"{base}/wechat/main"
        peer.down(True)
        await peer.push(wx.text(OPENID, "着火了", msg_id=51), mode="safe")

        async def attempts() -> list[Any]:
            return [d for t in await wechat_tickets(redis) for d in t.deliveries]
        await eventually(attempts, lambda ds: len(ds) >= 2 and all(d.outcome == "retry" for d in ds))
        peer.down(False)
        await peer.wait_sent(lambda m: m["touser"] == OPENID, timeout=20)
        delivered = await eventually(attempts, lambda ds: any(d.outcome == "delivered" for d in ds))
        assert [d.outcome for d in delivered][-1] == "delivered"

        other = "oK3x9-ExampleOpenId000000002"
        await peer.push(wx.text(other, "着火了", msg_id=52), mode="safe")
        peer.close_window(other)  # the user unfollowed: WeChat answers 45015
        dead = await eventually(lambda: redis.xrange(keys.DEAD_LETTER_STREAM), lambda rows: len(rows) == 1)
        assert b"45015" in dead[0][1][b"reason"] or b"window" in dead[0][1][b"reason"]
        assert [m for m in peer.sent if m["touser"] == other] == []
    await redis.aclose()


def _every_type(peer: wx.WeChatPeer, n: int) -> list[tuple[str, str, bool]]:
    """(label, xml, expects a passive reply) for every message and event type."""
    peer.add_media(f"img-{n}", png(), "image/png")
    peer.add_media(f"vid-{n}", b"\x00\x00\x00\x18ftypmp42" + bytes(64), "video/mp4")
    base = 61_000_000 + n * 100
    return [
        ("text", wx.text(OPENID, "居住证怎么办理", msg_id=base + 1), True),
        ("image", wx.image(OPENID, peer.add_picture(f"pic-{n}", png(), "image/png"), f"img-{n}", msg_id=base + 2), True),
        ("voice", wx.voice(OPENID, "voice-x", msg_id=base + 3, recognition="小区门口路灯坏了"), True),
        ("video", wx.video(OPENID, f"vid-{n}", f"img-{n}", msg_id=base + 4), True),
        ("shortvideo", wx.shortvideo(OPENID, f"vid-{n}", f"img-{n}", msg_id=base + 5), True),
        ("location", wx.location(OPENID, 39.95, 116.30, 15, "海淀区中关村街道", msg_id=base + 6), True),
        ("link", wx.link(OPENID, "积水", "小区门口积水", "https://example.org/x", msg_id=base + 7), True),
        ("subscribe", wx.event(OPENID, "subscribe", create_time=1718000000 + n), True),
        ("SCAN", wx.event(OPENID, "SCAN", create_time=1718000001 + n, EventKey="7", Ticket="T"), True),
        ("CLICK", wx.event(OPENID, "CLICK", create_time=1718000002 + n, EventKey="MENU_CONSULT"), True),
        ("VIEW", wx.event(OPENID, "VIEW", create_time=1718000003 + n, EventKey="https://12345.beijing.gov.cn/"), False),
        ("LOCATION", wx.event(OPENID, "LOCATION", create_time=1718000004 + n, Latitude=39.9, Longitude=116.4, Precision=20.0), False),
        ("unsubscribe", wx.event(OPENID, "unsubscribe", create_time=1718000005 + n), False),
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_every_message_and_event_type_in_every_mode(wechat, mode: str) -> None:
    peer, _, redis = wechat
    for label, xml, replies in _every_type(peer, MODES.index(mode)):
        result = await peer.push(xml, mode=mode)
        result.check()  # a well-formed passive reply (encrypted and signed outside plaintext mode) or success
        assert (result.reply is not None) == replies, (label, result.body[:200])
        assert result.encrypted == (replies and mode != "plain"), label
    tickets = await wechat_tickets(redis)
    assert any(m.source == "wechat-recognition" and m.text == "小区门口路灯坏了" for t in tickets for m in t.messages)
    # The picture, the videos and the place went into one request being collected, kept on its ticket.
    collecting = [t for t in tickets if t.source.extra.get("mode") == "collecting"]
    assert len(collecting) == 1
    assert sorted(a.kind for a in collecting[0].attachments) == ["image", "video"]  # the video and the short video are one file
    assert collecting[0].location.district == "海淀区" and collecting[0].location.latitude == pytest.approx(39.95)
    assert "小区门口路灯坏了" in [m.text for m in collecting[0].messages]
