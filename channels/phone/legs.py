"""One call leg as the phone leader follows it: what its speech node heard (opened, partials,
finals, lag, closed; relayed by `speech_relay.py`) on its way to the agent's screen and the
ticket.

Partials go to the screen only; each final segment is written to the ticket (with the leg,
times from the start of the call and confidence) before it is shown, so what the agent reads is
already stored. The caller's words also drive the KB suggestions and field pre-filling. Events
are handled in order, one leg at a time, beside the other legs.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Generic, Literal, Protocol, TypeVar

from gateway.metrics import Metrics
from speech.recognizer import Segment

log = logging.getLogger(__name__)

PARTIAL_SUGGEST_INTERVAL = 1.0  # seconds between suggestion refreshes driven by partials
NORMAL_ENDS = ("eof", "hangup")
NODE_STOPPED = "shutdown"  # the node ended its streams because it is stopping: move the leg


class LegSession(Protocol):
    """What a leg needs of its call (the phone channel's CallSession)."""
    ticket_id: str
    started_at: float

    def leg_closed(self, leg: Any) -> None: ...


CallT = TypeVar("CallT", bound=LegSession)
CallT_contra = TypeVar("CallT_contra", bound=LegSession, contravariant=True)


class CallOwner(Protocol[CallT_contra]):
    """What a leg needs of the phone channel; a protocol so that legs does not import the service."""
    metrics: Metrics

    async def record(self, session: CallT_contra, event: str, detail: dict[str, Any]) -> None: ...
    async def push(self, session: CallT_contra, event: dict[str, Any], also: list[str] | None = None) -> None: ...
    async def refresh_suggestions(self, session: CallT_contra, pending: str = "") -> None: ...
    async def add_segment(self, session: CallT_contra, leg: str, segment: Segment, offset: float) -> None: ...
    async def leg_opened(self, session: CallT_contra, leg: Any) -> None: ...
    async def leg_lost(self, session: CallT_contra, leg: Any, reason: str) -> None: ...
    def observe_lag(self) -> None: ...


class LegTranscriber(Generic[CallT]):
    def __init__(self, phone: CallOwner[CallT], session: CallT, stream_id: str, leg: Literal["caller", "agent"],
                 channel: str, node_id: str) -> None:
        self.phone = phone
        self.session = session
        self.stream_id = stream_id
        self.leg = leg
        self.channel = channel
        self.node_id = node_id
        self.opened = False
        self.offset = 0.0  # where this leg's clock starts on the call's clock (the spy starts after the call)
        self.heard_until = 0.0  # call time up to which the node had decoded (for a gap's start)
        self.seconds_received = 0.0
        self.lag = 0.0
        self.done = asyncio.Event()
        self._events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._last_partial_suggest = 0.0
        self._partial_seq = 0
        self._task = asyncio.create_task(self._run(), name=f"leg-{stream_id}")

    def deliver(self, kind: str, data: dict[str, Any]) -> None:
        """An event from the node (or `lost` from the relay); handled after those before it."""
        self._events.put_nowait((kind, data))

    def cancel(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        moved: str | None = None
        try:
            while True:
                kind, data = await self._events.get()
                try:
                    if kind == "closed":
                        moved = await self._closed(data)
                        return
                    if kind == "lost":
                        moved = str(data.get("reason") or "node_lost")
                        return
                    await self._handle(kind, data)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("speech event of a leg could not be handled", extra={"ticket": self.session.ticket_id, "event": kind})
        finally:
            self.done.set()
            self.session.leg_closed(self)
            if moved is not None:
                await self.phone.leg_lost(self.session, self, moved)

    async def _handle(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "opened":
            self.opened = True
            self.offset = max(0.0, float(data.get("at", time.time())) - self.session.started_at)
            self.heard_until = self.offset
            await self.phone.leg_opened(self.session, self)
        elif kind == "partial":
            self._partial_seq += 1
            audio_time = round(self.offset + float(data["audio_time"]), 2)
            self.heard_until = max(self.heard_until, audio_time)
            await self.phone.push(self.session, {
                "type": "call.partial", "leg": self.leg, "text": data["text"], "seq": self._partial_seq, "audio_time": audio_time})
            if self.leg == "caller" and time.monotonic() - self._last_partial_suggest >= PARTIAL_SUGGEST_INTERVAL:
                self._last_partial_suggest = time.monotonic()
                await self.phone.refresh_suggestions(self.session, pending=str(data["text"]))
        elif kind == "final":
            segment = Segment(float(data["start"]), float(data["end"]), str(data["text"]), float(data["confidence"]))
            self.heard_until = max(self.heard_until, self.offset + segment.end)
            await self.phone.add_segment(self.session, self.leg, segment, self.offset)
        elif kind == "lag":
            self.lag = float(data["seconds"]) if data.get("behind") else 0.0
            await self.phone.push(self.session, {"type": "call.lag", "leg": self.leg, "behind": bool(data.get("behind")),
                                                 "seconds": round(float(data["seconds"]), 1)})
            self.phone.observe_lag()

    async def _closed(self, data: dict[str, Any]) -> str | None:
        """The stream ended on its node; the reason a node that stops gives means: move the leg."""
        reason, detail = str(data.get("reason", "")), str(data.get("detail", ""))
        self.seconds_received = float(data.get("seconds_received", 0.0))
        self.phone.metrics.audio_streams.labels(reason).inc()
        if reason == NODE_STOPPED:
            return "node_stopped"
        if reason not in NORMAL_ENDS:
            log.warning("call audio ended abnormally", extra={"ticket": self.session.ticket_id, "leg": self.leg, "reason": reason, "detail": detail})
            await self.phone.record(self.session, "audio_interrupted", {
                "leg": self.leg, "reason": reason, "detail": detail, "seconds_received": round(self.seconds_received, 2),
            })
            await self.phone.push(self.session, {"type": "call.audio_interrupted", "leg": self.leg, "reason": reason})
        return None

    def state(self) -> dict[str, Any]:
        return {"leg": self.leg, "seconds": round(self.seconds_received, 1), "lag": round(self.lag, 1), "node": self.node_id}
