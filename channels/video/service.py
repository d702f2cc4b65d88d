"""The video channel of one instance: starts sessions (ticket through intake, media here),
answers agents, carries the chat, ends sessions and files what was recorded on the ticket.

Requests that need a session's media (accept, end) are run by the instance holding it: any
other instance hands them over through that instance's control list in Redis and waits for
the reply, so citizens and agents may land on any instance."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from channels.video import adapter, keys
from channels.video.errors import VideoError
from channels.video.media import MediaSession, OfferError
from channels.video.sessions import ALIVE_TTL_SECONDS, END_MESSAGES, Sessions, VideoSession
from channels.video.settings import VideoSettings, recording_dir
from gateway import clock, instance_rpc
from gateway.blobs import BlobStore
from gateway.intake import Intake
from gateway.live_events import publish_to_desks
from gateway.phone_numbers import mask
from gateway.rate_limits import RateLimit
from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, stop_if_cancelled
from gateway.settings import Settings
from gateway.ticket import Abandoned, HistoryEvent, Status, Ticket
from gateway.tickets import Tickets
from gateway.users import Users

log = logging.getLogger(__name__)

CAPABILITY = "sign_language"
RPC_TIMEOUT_SECONDS = 15
WARN_BEFORE_END_SECONDS = 60


def token_sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Started:
    session_id: str
    token: str
    ticket_id: str
    answer_sdp: str
    position: int


class VideoChannel:
    def __init__(self, settings: Settings, redis: Redis, intake: Intake, tickets: Tickets, blobs: BlobStore, users: Users) -> None:
        self.settings = settings
        self.config = settings.section(VideoSettings)
        self.recordings = recording_dir(settings.data_dir)
        self.redis = redis
        self.intake = intake
        self.tickets = tickets
        self.blobs = blobs
        self.users = users
        self.sessions = Sessions(redis)
        self.media: dict[str, MediaSession] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self.recordings.mkdir(parents=True, exist_ok=True)
        self._tasks = [asyncio.create_task(self._serve_control(), name="video-control"),
                       asyncio.create_task(self._keep_alive(), name="video-alive")]

    async def stop(self) -> None:
        """End this instance's sessions properly: their tickets get what was recorded."""
        self._stopping = True
        await asyncio.gather(*(self.finish(sid, "shutdown", "system") for sid in list(self.media)), return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.wait(self._tasks, timeout=10)  # bounded: a shutdown must end

    async def _keep_alive(self) -> None:
        outage = OutageLog(log, "video keep-alive")
        while True:
            stop_if_cancelled()
            try:
                await self.sessions.keep_alive(list(self.media))
                outage.ok()
            except REDIS_UNREACHABLE as exc:  # keep trying: other instances end our sessions if this stops
                outage.failed(exc)
            await asyncio.sleep(ALIVE_TTL_SECONDS / 4)

    # --- citizen ---------------------------------------------------------------------

    async def start_session(self, offer_sdp: str, phone: str | None, remote: str | None) -> Started:
        if self._stopping:
            raise VideoError(503, "video_unavailable", "视频服务正在维护，请稍后再试或使用文字服务")
        session_id = secrets.token_urlsafe(12)
        token = secrets.token_urlsafe(24)
        if not await self.sessions.admit(session_id, self.settings.instance_id, token_sha(token), self.config.video_max_sessions):
            raise VideoError(503, "video_busy", "当前视频手语服务已满，请稍后再试，也可以使用文字服务或预约回访", retry_after=60)
        media = MediaSession(session_id, self.config, self.recordings, lambda reason: self.finish(session_id, reason, "system"))
        try:
            answer = await media.answer_citizen(offer_sdp)
            now = clock.now()
            per_ip = RateLimit(f"video-ip:{remote}", self.settings.rate_limit_ip_per_hour, 3600)
            result = await self.intake(adapter.to_ticket(session_id, now, phone), actor="citizen", limits=(per_ip,))
            if result.ticket_id is None:
                raise VideoError(429, "rate_limited", "申请过于频繁，请稍后再试；紧急情况请拨打12345", retry_after=result.retry_after)
        except OfferError as exc:
            await media.close()
            await self.sessions.release(session_id)
            log.info("video offer refused", extra={"reason": str(exc)[:200]})
            raise VideoError(422, "invalid_offer", "无法建立视频连接，请确认浏览器已允许使用摄像头后重试") from None
        except BaseException:
            await media.close()
            await self.sessions.release(session_id)
            raise
        self.media[session_id] = media
        position = await self.sessions.enqueue(session_id, result.ticket_id)
        log.info("video session queued", extra={"session": session_id, "ticket": result.ticket_id, "phone": mask(phone), "position": position})
        await self._tell_desks({"type": "video.queued", "session": (await self._session(session_id)).public(position)})
        return Started(session_id, token, result.ticket_id, answer, position)

    async def citizen_session(self, session_id: str, token: str) -> VideoSession:
        session = await self.sessions.get(session_id)
        if session is None or not secrets.compare_digest(session.token_sha, token_sha(token)):
            raise VideoError(404, "video_session_not_found", "视频会话不存在或已过期，请重新申请")
        return session

    async def request_callback(self, session: VideoSession, phone: str) -> None:
        at = clock.now()

        def note(ticket: Ticket) -> dict[str, Any]:
            ticket.requester.callback_phone = phone
            return {"callback_phone": mask(phone)}

        await self.tickets.update(session.ticket_id, note, HistoryEvent(at=at, actor="citizen", event="callback_requested"))
        await self.end(session, "callback", "citizen")

    # --- agents ----------------------------------------------------------------------

    async def is_sign_language_agent(self, username: str) -> bool:
        found = await self.users.get(username)
        return found is not None and CAPABILITY in found[0].capabilities and not found[0].disabled

    async def accept(self, session_id: str, agent: str, agent_name: str, offer_sdp: str) -> dict[str, Any]:
        session = await self._session(session_id)
        if session.status != "queued":
            raise VideoError(409, "video_session_taken", "该视频请求已被其他坐席接听或已结束")
        return await self._on_owner(session, {"action": "accept", "session": session_id, "agent": agent, "agent_name": agent_name, "sdp": offer_sdp})

    async def _accept_here(self, session_id: str, agent: str, agent_name: str, offer_sdp: str) -> dict[str, Any]:
        media = self.media.get(session_id)
        if media is None or not await self.sessions.claim(session_id, agent, agent_name):
            raise VideoError(409, "video_session_taken", "该视频请求已被其他坐席接听或已结束")
        try:
            answer = await media.answer_agent(offer_sdp)
        except OfferError:
            await self.sessions.requeue(session_id)
            raise VideoError(422, "invalid_offer", "无法建立视频连接，请检查摄像头后重试") from None
        session = await self._session(session_id)
        self._timers[session_id] = asyncio.create_task(self._limit_duration(session_id), name=f"video-limit-{session_id}")
        await self.tickets.update(session.ticket_id, lambda t: None,
                                  HistoryEvent(at=clock.now(), actor=f"agent:{agent}", event="video_accepted"))
        await self.sessions.tell_citizen(session_id, {"type": "connected", "agent_name": agent_name or "手语坐席"})
        await self._tell_desks({"type": "video.taken", "session": session.public()})
        return {"sdp": answer, "type": "answer", "session": session.public(), "chat": await self.sessions.chat(session_id)}

    async def decline(self, session_id: str, agent: str) -> None:
        await self.sessions.decline(session_id, agent)

    async def file(self, session: VideoSession, agent: str, content: str, kind: str | None) -> Ticket:
        def fill(ticket: Ticket) -> dict[str, Any]:
            ticket.content = content
            if kind:
                ticket.kind = kind  # type: ignore[assignment]  # stored as its value (use_enum_values)
            return {"kind": kind} if kind else {}

        return await self.tickets.update(session.ticket_id, fill, HistoryEvent(at=clock.now(), actor=f"agent:{agent}", event="video_filed"))

    # --- both sides ------------------------------------------------------------------

    async def chat(self, session: VideoSession, who: str, text: str, author: str | None) -> dict[str, Any]:
        if session.status == "ended":
            raise VideoError(409, "video_session_ended", "本次视频通话已结束")
        line = adapter.chat_line(who, text, clock.now(), author)
        if not await self.sessions.add_chat(session.id, line):
            raise VideoError(409, "chat_full", "本次通话的文字消息已达上限")

        def add(ticket: Ticket) -> None:
            ticket.messages.append(adapter.to_message(line))

        # On the ticket at once: a crash of any instance keeps what was typed.
        await self.tickets.update(session.ticket_id, add, None, publish=False)
        await self.sessions.tell_citizen(session.id, {"type": "chat", "message": line})
        if session.agent:
            await self._tell_desks({"type": "video.chat", "session_id": session.id, "message": line}, [session.agent])
        return line

    async def end(self, session: VideoSession, reason: str, by: str) -> None:
        if session.status == "ended":
            return
        await self._on_owner(session, {"action": "end", "session": session.id, "reason": reason, "by": by})

    async def finish(self, session_id: str, reason: str, by: str) -> None:
        """End a session held here, once: stop the media, file the recording and the chat
        transcript on the ticket, tell both sides."""
        prior = await self.sessions.end(session_id, reason, by)
        media = self.media.pop(session_id, None)
        timer = self._timers.pop(session_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        if prior:
            # Both sides hear of it at once; closing the media and filing the recording can take
            # a while on a busy machine, and nobody should wait for that.
            session = await self._session(session_id)
            ended = session.ended_event()
            await self.sessions.tell_citizen(session_id, ended)
            await self._tell_desks({"type": "video.ended", "session": session.public(), "message": ended["message"]})
        recording = await media.close() if media is not None else None
        if not prior:
            return
        attachments = []
        if recording is not None:
            sha, size = await asyncio.to_thread(self.blobs.put_file, recording)
            attachments.append(adapter.attachment("video", sha, size, adapter.RECORDING_MIME, f"视频记录-{session.ticket_id}.webm"))
        lines = await self.sessions.chat(session_id)
        if lines:
            text = adapter.transcript_text(session_id, lines).encode()
            sha = await asyncio.to_thread(self.blobs.put, text)
            attachments.append(adapter.attachment("document", sha, len(text), "text/plain", f"文字记录-{session.ticket_id}.txt"))
        seconds = round((session.ended_ms - (session.accepted_ms or session.created_ms)) / 1000, 1)
        at = clock.now()
        never_answered = prior in ("starting", "queued") and reason != "callback"

        def settle(ticket: Ticket) -> dict[str, Any]:
            ticket.attachments.extend(attachments)
            if never_answered and ticket.disposition is None:
                ticket.status = Status.abandoned
                ticket.disposition = Abandoned(at=at, reason="市民在排队中离开" if by == "citizen" else END_MESSAGES.get(reason, reason))
            return {"reason": reason, "seconds": seconds, "recording": recording is not None, "chat_messages": len(lines)}

        await self.tickets.update(session.ticket_id, settle, HistoryEvent(at=at, actor=by, event="video_ended"))
        log.info("video session ended", extra={"session": session_id, "ticket": session.ticket_id, "reason": reason,
                                                 "seconds": seconds, "recorded": recording is not None})

    async def _limit_duration(self, session_id: str) -> None:
        limit = self.config.video_max_session_seconds
        warn_at = max(0.0, limit - WARN_BEFORE_END_SECONDS)
        await asyncio.sleep(warn_at)
        if limit > WARN_BEFORE_END_SECONDS:
            await self.sessions.tell_citizen(session_id, {"type": "warning", "message": "本次视频通话将在1分钟后达到最长时长并自动结束。"})
        await asyncio.sleep(limit - warn_at)
        await self.finish(session_id, "max_duration", "system")

    # --- plumbing --------------------------------------------------------------------

    async def _session(self, session_id: str) -> VideoSession:
        session = await self.sessions.get(session_id)
        if session is None:
            raise VideoError(404, "video_session_not_found", "视频会话不存在")
        return session

    async def _tell_desks(self, event: dict[str, Any], audience: list[str] | None = None) -> None:
        """Video events go to the sign-language agents (supervisors see every event anyway)."""
        await publish_to_desks(self.redis, event, audience if audience is not None else sorted(await self.users.with_capability(CAPABILITY)))

    async def _on_owner(self, session: VideoSession, request: dict[str, Any]) -> dict[str, Any]:
        if session.instance == self.settings.instance_id:
            return await self._run(request)
        if not await self.redis.exists(keys.alive(session.id)):
            # Its instance is gone with the media: close the session so it stops counting.
            await self.sessions.end(session.id, "lost", "system")
            raise VideoError(409, "video_session_ended", "本次视频通话已中断")
        try:
            return await instance_rpc.call(self.redis, keys.control(session.instance), request, RPC_TIMEOUT_SECONDS)
        except TimeoutError:
            raise VideoError(504, "video_instance_timeout", "视频服务响应超时，请重试") from None
        except instance_rpc.RemoteFailed as exc:
            raise VideoError(exc.error["status"], exc.error["code"], exc.error["message"]) from None

    async def _run(self, request: dict[str, Any]) -> dict[str, Any]:
        if request["action"] == "accept":
            return await self._accept_here(request["session"], request["agent"], request["agent_name"], request["sdp"])
        await self.finish(request["session"], request["reason"], request["by"])
        return {"ended": True}

    async def _serve_control(self) -> None:
        await instance_rpc.serve(self.redis, keys.control(self.settings.instance_id), self._run,
                                 label="video control list", failure=_refusal, concurrent=True)


def _refusal(exc: Exception) -> dict[str, Any]:
    """What the asking instance turns back into the same refusal."""
    if isinstance(exc, VideoError):
        return {"status": exc.status, "code": exc.code, "message": exc.message}
    log.error("video control request failed", exc_info=exc)
    return {"status": 500, "code": "internal_error", "message": "系统繁忙，请稍后再试"}
