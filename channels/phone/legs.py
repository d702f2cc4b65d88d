"""One call leg's audio, from the AudioSocket stream through the recogniser to the agent's screen
and the ticket.

Partials go to the screen only; each final segment is written to the ticket (with the leg,
times from the start of the call and confidence) before it is shown, so what the agent reads is
already stored. The caller's words also drive the KB suggestions and field pre-filling.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Generic, Protocol, TypeVar

from channels.phone.audiosocket import CloseReason, ExpectedStream
from gateway.metrics import Metrics
from speech.recognizer import DiscardingLeg, Final, Lag, LegStream, Partial, Segment, SpeechEngine, SpeechEvent

log = logging.getLogger(__name__)

PARTIAL_SUGGEST_INTERVAL = 1.0  # seconds between suggestion refreshes driven by partials


class LegSession(Protocol):
    """What a leg needs of its call (the phone channel's CallSession)."""
    ticket_id: str
    started_at: float

    def leg_closed(self, leg: Any) -> None: ...


CallT = TypeVar("CallT", bound=LegSession)
CallT_contra = TypeVar("CallT_contra", bound=LegSession, contravariant=True)


class CallOwner(Protocol[CallT_contra]):
    """What a leg needs of the phone channel; a protocol so that legs does not import the service."""
    speech: SpeechEngine
    metrics: Metrics

    async def record(self, session: CallT_contra, event: str, detail: dict[str, Any]) -> None: ...
    async def push(self, session: CallT_contra, event: dict[str, Any], also: list[str] | None = None) -> None: ...
    async def refresh_suggestions(self, session: CallT_contra, pending: str = "") -> None: ...
    async def add_segment(self, session: CallT_contra, leg: str, segment: Segment, offset: float) -> None: ...
    def observe_lag(self) -> None: ...


class LegTranscriber(Generic[CallT]):
    """The StreamSink of one AudioSocket stream."""

    def __init__(self, phone: CallOwner[CallT], session: CallT, expected: ExpectedStream) -> None:
        self.phone = phone
        self.session = session
        self.expected = expected
        self.leg = expected.leg
        self.opened_at = time.time()
        # Where this leg's clock starts on the call's clock (the spy starts after the call does).
        self.offset = max(0.0, self.opened_at - session.started_at)
        self.stream: LegStream | DiscardingLeg | None = None
        self.seconds_received = 0.0
        self.dtmf_digits = ""
        self.lag = 0.0
        self.done = asyncio.Event()
        self._last_partial_suggest = 0.0
        self._partial_seq = 0

    # -- StreamSink --------------------------------------------------------------------------

    def audio(self, pcm: bytes, rate: int) -> None:
        if self.stream is None:
            self.stream = self.phone.speech.open_leg(rate, self._on_speech)
        self.stream.feed(pcm, rate)
        self.seconds_received += len(pcm) / 2 / rate

    def dtmf(self, digit: str) -> None:
        self.dtmf_digits += digit

    async def closed(self, reason: CloseReason, detail: str) -> None:
        self.phone.metrics.audio_streams.labels(reason).inc()
        try:
            if self.stream is not None:
                await self.stream.close()  # decodes what is queued and flushes the last words
            if reason not in ("eof", "hangup"):
                log.warning("call audio ended abnormally", extra={"ticket": self.session.ticket_id, "leg": self.leg, "reason": reason, "detail": detail})
                await self.phone.record(self.session, "audio_interrupted", {
                    "leg": self.leg, "reason": reason, "detail": detail, "seconds_received": round(self.seconds_received, 2),
                })
                await self.phone.push(self.session, {"type": "call.audio_interrupted", "leg": self.leg, "reason": reason})
        finally:
            self.done.set()
            self.session.leg_closed(self)

    # -- recogniser events -------------------------------------------------------------------

    async def _on_speech(self, event: SpeechEvent) -> None:
        if isinstance(event, Partial):
            self._partial_seq += 1
            await self.phone.push(self.session, {
                "type": "call.partial", "leg": self.leg, "text": event.text, "seq": self._partial_seq,
                "audio_time": round(self.offset + event.audio_time, 2),
            })
            if self.leg == "caller" and time.monotonic() - self._last_partial_suggest >= PARTIAL_SUGGEST_INTERVAL:
                self._last_partial_suggest = time.monotonic()
                await self.phone.refresh_suggestions(self.session, pending=event.text)
        elif isinstance(event, Final):
            await self.phone.add_segment(self.session, self.leg, event.segment, self.offset)
        elif isinstance(event, Lag):
            self.lag = event.seconds if event.behind else 0.0
            await self.phone.push(self.session, {"type": "call.lag", "leg": self.leg, "behind": event.behind, "seconds": round(event.seconds, 1)})
            self.phone.observe_lag()

    def state(self) -> dict[str, Any]:
        return {"leg": self.leg, "seconds": round(self.seconds_received, 1), "lag": round(self.lag, 1)}
