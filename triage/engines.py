"""Engine choice (HOTLINE_NLU): the embedded decision engine, or a Rasa server with the
embedded engine as the fallback when Rasa is slower than its timeout or down. The outcome
says which engine decided and why, and the ticket records it."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from knowledge_base.snapshot import KnowledgeSnapshot
from triage.decision import Conversation, Decision, decide, emergency_check, with_dispatch

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    decision: Decision
    engine: str  # "embedded" or "rasa": who decided
    fallback: str | None = None  # why Rasa did not (rasa_timeout, rasa_down, …)
    rasa_ms: float | None = None
    guard: str | None = None  # "emergency": triage's emergency check decided before Rasa

    def record(self) -> dict[str, Any]:
        """What goes on the ticket next to the decision."""
        out: dict[str, Any] = {"engine": self.engine}
        if self.fallback:
            out["fallback"] = self.fallback
        if self.guard:
            out["guard"] = self.guard
        if self.rasa_ms is not None:
            out["rasa_ms"] = round(self.rasa_ms, 1)
        return out


class RemoteUnavailable(Exception):
    """The remote engine did not decide: `code` says why (rasa_timeout, rasa_down, rasa_error, rasa_bad_reply)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class RemoteDecider(Protocol):
    """A dialogue engine beside the embedded one (bot.rasa.client.RasaClient). Triage does not know
    which: bot/ builds it and hands it in."""

    async def decide(self, sender: str, text: str) -> Decision: ...
    async def close(self) -> None: ...


class BotEngine:
    def __init__(self, nlu: str, rasa: RemoteDecider | None = None, retry_seconds: float = 5.0,
                 emergency_guard: bool = True) -> None:
        self.nlu = nlu
        self.rasa = rasa
        self.retry_seconds = retry_seconds
        self.guard_emergencies = emergency_guard
        self._skip_until = 0.0  # after a failure, don't make every citizen wait for the timeout

    async def decide(self, text: str, conversation: Conversation, channel: str, sender: str,
                     kb: KnowledgeSnapshot, now: datetime) -> Outcome:
        if self.rasa is None:
            return Outcome(decide(text, conversation, channel, kb, now), "embedded")
        if self.guard_emergencies and (urgent := emergency_check(text, now, channel)) is not None:
            return Outcome(urgent, "embedded", guard="emergency")
        if time.monotonic() < self._skip_until:
            return self._fallback(text, conversation, channel, kb, now, "rasa_unavailable", "skipped after a recent failure")
        started = time.perf_counter()
        try:
            decision = await self.rasa.decide(sender, text)
        except RemoteUnavailable as exc:
            self._skip_until = time.monotonic() + self.retry_seconds
            log.warning("rasa did not decide, embedded engine decides", extra={"reason": exc.code, "detail": exc.detail})
            return self._fallback(text, conversation, channel, kb, now, exc.code, exc.detail)
        return Outcome(with_dispatch(decision, text), "rasa", rasa_ms=(time.perf_counter() - started) * 1000)

    def _fallback(self, text: str, conversation: Conversation, channel: str, kb: KnowledgeSnapshot, now: datetime,
                  code: str, detail: str) -> Outcome:
        decision = decide(text, conversation, channel, kb, now)
        decision.reasons.insert(0, f"{code} ({detail}): embedded engine decided")
        return Outcome(decision, "embedded", fallback=code)

    async def close(self) -> None:
        if self.rasa is not None:
            await self.rasa.close()
