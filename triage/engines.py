"""Engine choice (HOTLINE_NLU): the embedded decision engine, or a Rasa server with the
embedded engine as the fallback when Rasa is slower than its timeout or down. The outcome
says which engine decided and why, and the ticket records it."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from triage.decision import Conversation, Decision, decide, emergency_check, with_dispatch
from bot.rasa_client import RasaClient, RasaUnavailable
from gateway.settings import Settings
from knowledge_base.snapshot import KnowledgeSnapshot

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


class BotEngine:
    def __init__(self, nlu: str, rasa: RasaClient | None = None, retry_seconds: float = 5.0,
                 emergency_guard: bool = True) -> None:
        self.nlu = nlu
        self.rasa = rasa
        self.retry_seconds = retry_seconds
        self.guard_emergencies = emergency_guard
        self._skip_until = 0.0  # after a failure, don't make every citizen wait for the timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> "BotEngine":
        client = RasaClient(settings.rasa_url, settings.rasa_timeout_seconds) if settings.nlu == "rasa" else None
        return cls(settings.nlu, client, settings.rasa_retry_seconds, settings.rasa_emergency_guard)

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
        except RasaUnavailable as exc:
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


def setup(app: web.Application) -> None:
    """The engine on the app, and with Rasa the action endpoint it calls back."""
    settings: Settings = app["settings"]
    engine = BotEngine.from_settings(settings)
    app["bot_engine"] = engine
    if settings.nlu == "rasa":
        from bot import rasa_actions

        rasa_actions.setup(app)

    async def close(_: web.Application) -> None:
        await engine.close()

    app.on_cleanup.append(close)
