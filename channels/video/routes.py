"""HTTP edge of the video channel: the citizen page and its API (session token in
`X-Video-Token`, or `?token=` on the WebSocket), and the agent desk's video routes."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web
from redis.asyncio import Redis

from channels.video import forms, keys
from channels.video.errors import VideoError
from channels.video.sessions import VideoSession
from channels.video.settings import VideoSettings
from channels.video.state import VIDEO
from gateway.app_keys import REDIS, SETTINGS
from gateway.auth import requires
from gateway.client_address import client_address
from gateway.errors import ApiError
from gateway.json_io import json_response
from gateway.redis_values import text
from gateway.sessions import STAFF_SESSION

if TYPE_CHECKING:  # the service pulls in aiortc, loaded only when the channel is on
    from channels.video.service import VideoChannel

STATIC = Path(__file__).with_name("static")
DESK = ("agent", "supervisor")


def _channel(request: web.Request) -> "VideoChannel":
    channel = request.app.get(VIDEO)
    if channel is None:
        raise ApiError(503, "video_unavailable", "视频手语服务暂未开通，请使用文字服务或拨打12345")
    return channel


async def _citizen_session(request: web.Request, token: str | None = None) -> VideoSession:
    token = token if token is not None else request.headers.get("X-Video-Token", "")
    if not token or len(token) > 64:
        raise ApiError(401, "video_token_missing", "请从视频服务页面重新申请")
    return await _channel(request).citizen_session(request.match_info["session_id"], token)


# --- citizen -----------------------------------------------------------------------


async def video_page(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "video.html")


async def video_config(request: web.Request) -> web.Response:
    s = request.app[SETTINGS].section(VideoSettings)
    ice = [{"urls": u.strip(), **({"username": s.video_ice_username, "credential": s.video_ice_credential} if s.video_ice_username else {})}
           for u in s.video_ice_servers.split(",") if u.strip()]
    return json_response({
        "enabled": request.app.get(VIDEO) is not None,
        "max_width": s.video_max_width, "max_height": s.video_max_height, "max_framerate": s.video_max_framerate,
        "max_bitrate_kbps": s.video_max_bitrate_kbps, "max_session_seconds": s.video_max_session_seconds,
        "queue_timeout_seconds": s.video_queue_timeout_seconds, "chat_max_chars": forms.CHAT_MAX_CHARS, "ice_servers": ice,
    })


async def start_session(request: web.Request) -> web.Response:
    channel = _channel(request)
    body: forms.VideoOfferIn = await forms.read(request, forms.VideoOfferIn)  # type: ignore[assignment]
    started = await channel.start_session(body.sdp, body.phone, client_address(request))
    return json_response({
        "session_id": started.session_id, "token": started.token, "ticket_id": started.ticket_id,
        "answer": {"type": "answer", "sdp": started.answer_sdp}, "position": started.position,
        "message": f"已为您申请手语视频服务，工单号 {started.ticket_id}，正在为您接通坐席",
    }, status=201)


async def citizen_view(request: web.Request) -> web.Response:
    session = await _citizen_session(request)
    channel = _channel(request)
    return json_response({**session.public(await channel.sessions.position(session.id)), "chat": await channel.sessions.chat(session.id)})


async def citizen_message(request: web.Request) -> web.Response:
    session = await _citizen_session(request)
    body: forms.VideoChatIn = await forms.read(request, forms.VideoChatIn)  # type: ignore[assignment]
    line = await _channel(request).chat(session, "citizen", body.text, None)
    return json_response(line, status=201)


async def citizen_callback(request: web.Request) -> web.Response:
    session = await _citizen_session(request)
    body: forms.VideoCallbackIn = await forms.read(request, forms.VideoCallbackIn)  # type: ignore[assignment]
    if session.status not in ("queued", "starting"):
        raise ApiError(409, "video_session_not_queued", "只有在排队等待时可以预约回访")
    await _channel(request).request_callback(session, body.phone)
    return json_response({"ok": True, "ticket_id": session.ticket_id, "message": "已登记回访，坐席空闲后将与您联系"})


async def citizen_end(request: web.Request) -> web.Response:
    session = await _citizen_session(request)
    await _channel(request).end(session, "citizen", "citizen")
    return json_response({"ok": True, "ticket_id": session.ticket_id})


async def citizen_events(request: web.Request) -> web.WebSocketResponse:
    """Status, place in the queue, chat and the end, pushed to the citizen's page. The page
    keeps this open for the whole session: when it closes, the citizen has left."""
    session = await _citizen_session(request, request.query.get("token", ""))
    channel = _channel(request)
    ws = web.WebSocketResponse(heartbeat=15)
    await ws.prepare(request)
    pump = asyncio.create_task(_pump_citizen(ws, channel, session, request.app[REDIS]))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == "ping":
                await ws.send_str('{"type":"pong"}')
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        current = await channel.sessions.get(session.id)
        if current is not None and current.status != "ended" and not channel._stopping:
            try:
                await channel.end(current, "citizen_left", "citizen")
            except VideoError:
                pass
    return ws


async def _pump_citizen(ws: web.WebSocketResponse, channel: "VideoChannel", session: VideoSession, redis: Redis) -> None:
    settings = channel.config
    pubsub = redis.pubsub()
    await pubsub.subscribe(keys.events(session.id))
    try:
        last: tuple[str, int | None] | None = None
        offered = False
        while not ws.closed:
            current = await channel.sessions.get(session.id)
            if current is None:
                return
            position = await channel.sessions.position(session.id) if current.status == "queued" else None
            if (current.status, position) != last:
                last = (current.status, position)
                await ws.send_str(json.dumps({"type": "status", "session": current.public(position)}, ensure_ascii=False))
            if current.status == "ended":
                # The end may be stored before its event is published, or the event may wait
                # unread: the page is told from the stored session, else it would stay "connected".
                await ws.send_str(json.dumps(current.ended_event(), ensure_ascii=False))
                return
            waited = time.time() - current.queued_ms / 1000 if current.queued_ms else 0
            if current.status == "queued" and not offered and waited >= settings.video_queue_timeout_seconds:
                offered = True
                await ws.send_str(json.dumps({"type": "queue_timeout", "waited_seconds": int(waited),
                                              "message": "目前手语坐席都在忙，您可以改用文字服务、预约回访，或继续排队等待。"}, ensure_ascii=False))
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                await ws.send_str(text(message["data"]))
    finally:
        await pubsub.aclose()


# --- agents ------------------------------------------------------------------------


async def _sign_language(request: web.Request) -> str:
    username = request[STAFF_SESSION]["user"]
    if not await _channel(request).is_sign_language_agent(username):
        raise ApiError(403, "not_sign_language_agent", "您的账号未开通手语视频服务，请联系值班长")
    return username


async def _agent_session(request: web.Request, mine: bool = True) -> VideoSession:
    session = await _channel(request).sessions.get(request.match_info["session_id"])
    if session is None:
        raise ApiError(404, "video_session_not_found", "视频会话不存在")
    user = request[STAFF_SESSION]["user"]
    if mine and session.agent != user and "supervisor" not in request[STAFF_SESSION]["roles"]:
        raise ApiError(403, "not_your_video_session", "该视频通话不是由您接听的")
    return session


@requires(*DESK)
async def agent_sessions(request: web.Request) -> web.Response:
    channel = _channel(request)
    user = request[STAFF_SESSION]["user"]
    capable = await channel.is_sign_language_agent(user)
    supervisor = "supervisor" in request[STAFF_SESSION]["roles"]
    waiting: list[dict[str, Any]] = []
    if capable or supervisor:
        for position, s in enumerate(await channel.sessions.waiting(), start=1):
            if user not in await channel.sessions.declined_by(s.id):
                waiting.append(s.public(position))
    connected = [s.public() for s in await channel.sessions.connected_to(None if supervisor else user)]
    return json_response({"sign_language": capable, "waiting": waiting, "connected": connected,
                          "active": await channel.sessions.active_count(), "max_sessions": channel.config.video_max_sessions})


@requires(*DESK)
async def agent_session(request: web.Request) -> web.Response:
    session = await _agent_session(request, mine=False)
    channel = _channel(request)
    return json_response({**session.public(await channel.sessions.position(session.id)), "chat": await channel.sessions.chat(session.id)})


@requires("agent")
async def agent_accept(request: web.Request) -> web.Response:
    username = await _sign_language(request)
    body: forms.VideoAgentOfferIn = await forms.read(request, forms.VideoAgentOfferIn)  # type: ignore[assignment]
    answer = await _channel(request).accept(request.match_info["session_id"], username,
                                            request[STAFF_SESSION].get("display_name") or username, body.sdp)
    return json_response(answer)


@requires("agent")
async def agent_decline(request: web.Request) -> web.Response:
    username = await _sign_language(request)
    session = await _agent_session(request, mine=False)
    await _channel(request).decline(session.id, username)
    return json_response({"ok": True})


@requires(*DESK)
async def agent_message(request: web.Request) -> web.Response:
    session = await _agent_session(request)
    body: forms.VideoChatIn = await forms.read(request, forms.VideoChatIn)  # type: ignore[assignment]
    line = await _channel(request).chat(session, "agent", body.text, request[STAFF_SESSION]["user"])
    return json_response(line, status=201)


@requires(*DESK)
async def agent_file(request: web.Request) -> web.Response:
    session = await _agent_session(request)
    body: forms.VideoFileIn = await forms.read(request, forms.VideoFileIn)  # type: ignore[assignment]
    ticket = await _channel(request).file(session, request[STAFF_SESSION]["user"], body.content, body.kind)
    return json_response(ticket.public_json())


@requires(*DESK)
async def agent_end(request: web.Request) -> web.Response:
    session = await _agent_session(request)
    await _channel(request).end(session, "agent", "agent:" + request[STAFF_SESSION]["user"])  # a supervisor may end it too
    return json_response({"ok": True, "ticket_id": session.ticket_id})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/video", video_page, name="video_page")
    r.add_get("/api/v1/video/config", video_config, name="video_config")
    r.add_post("/api/v1/video/sessions", start_session, name="video_start")
    r.add_get("/api/v1/video/sessions/{session_id}", citizen_view, name="video_citizen_view")
    r.add_get("/api/v1/video/sessions/{session_id}/events", citizen_events, name="video_citizen_events")
    r.add_post("/api/v1/video/sessions/{session_id}/messages", citizen_message, name="video_citizen_message")
    r.add_post("/api/v1/video/sessions/{session_id}/callback", citizen_callback, name="video_citizen_callback")
    r.add_post("/api/v1/video/sessions/{session_id}/end", citizen_end, name="video_citizen_end")
    r.add_get("/api/v1/agent/video/sessions", agent_sessions, name="video_agent_sessions")
    r.add_get("/api/v1/agent/video/sessions/{session_id}", agent_session, name="video_agent_session")
    r.add_post("/api/v1/agent/video/sessions/{session_id}/accept", agent_accept, name="video_agent_accept")
    r.add_post("/api/v1/agent/video/sessions/{session_id}/decline", agent_decline, name="video_agent_decline")
    r.add_post("/api/v1/agent/video/sessions/{session_id}/messages", agent_message, name="video_agent_message")
    r.add_post("/api/v1/agent/video/sessions/{session_id}/file", agent_file, name="video_agent_file")
    r.add_post("/api/v1/agent/video/sessions/{session_id}/end", agent_end, name="video_agent_end")
