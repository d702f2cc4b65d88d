"""The router reads every new ticket from the intake stream, has triage assess it and sends it on.

Form tickets were filed deliberately, so they are forwarded to the core case system with the
assessment filled in (kind, urgency and deadline, place, topic and recommended unit) — except
when the matter lies in Tianjin or Hebei: then it waits for an agent's one-click 转外省市.
A partner hotline's transfer in is assessed and waits for one of our agents to accept it.
Chats were decided on the spot, calls and video sessions by the agent on the line (the desk's
forward assesses them), and a WeChat report still being collected is filed by its channel.
Enqueuing the outbox hop and acknowledging the intake entry are one Redis step, so a crash
never loses or doubles a hop.
"""
from __future__ import annotations

import asyncio
from typing import Any

from gateway import clock, keys
from gateway.outbox import CASE_HOP, Outbox
from gateway.stream_worker import Fields, StreamWorker
from gateway.ticket import HistoryEvent, Ticket
from gateway.tickets import Tickets
from knowledge_base.live import LiveKnowledge
from triage import duplicates
from triage.assessment import Assessment, assess_and_fill
from triage.classify import partner_names
from triage.hotspots import HotspotRules

AGENT_DECIDED_MODES = {"chat", "call", "collecting"}
ASSESS_ONLY_MODES = {"partner"}


class Router:
    def __init__(self, outbox: Outbox, tickets: Tickets, knowledge: LiveKnowledge, instance_id: str, claim_idle: float,
                 hotspot_rules: HotspotRules, warm_up: asyncio.Task[None] | None = None) -> None:
        self.outbox = outbox
        self.hotspot_rules = hotspot_rules
        self.warm_up = warm_up  # triage's models loading beside the first deliveries
        self.tickets = tickets
        self.knowledge = knowledge
        self.worker = StreamWorker(
            outbox.redis, keys.INTAKE_STREAM, keys.ROUTER_GROUP, instance_id, self._route,
            concurrency=32, claim_idle_seconds=claim_idle,
        )

    async def _route(self, entry_id: str, fields: Fields) -> None:
        ack = (keys.INTAKE_STREAM, keys.ROUTER_GROUP, entry_id)
        mode = fields.get("mode")
        if mode in AGENT_DECIDED_MODES:
            await self.outbox.redis.xack(*ack)
            return
        if not self.knowledge.ready.is_set():
            # A freshly started worker delivers at once and loads the index beside it: only the
            # entries the bot assesses wait for it (outbox deliveries never do).
            await self.knowledge.ready.wait()
        if self.warm_up is not None and not self.warm_up.done():
            await asyncio.shield(self.warm_up)  # deciding before the models are loaded would block the loop
        assessment = await assess_and_fill(self.tickets, fields["ticket"], self.knowledge.snapshot, clock.now(), self.hotspot_rules)
        if mode in ASSESS_ONLY_MODES:
            await self.outbox.redis.xack(*ack)
            return
        await send_on(self.outbox, self.tickets, fields["ticket"], assessment, "市民提交的诉求，转派承办单位办理", ack)


async def send_on(outbox: Outbox, tickets: Tickets, ticket_id: str, assessment: Assessment, reason: str,
                  ack: tuple[str, str, str] | None = None) -> None:
    """Forward a filed, assessed request to the case system, or hold it for 转外省市, or hold it
    as 疑似重复 for an agent to merge (or forward after all)."""
    partner = (assessment.decision.dispatch or {}).get("partner")
    if not partner and await _held_as_duplicate(tickets, ticket_id, ack):
        return
    if partner:
        hotline = partner_names().get(partner, partner)
        await tickets.update(ticket_id, lambda t: None, HistoryEvent(
            at=clock.now(), actor="router", event="held_for_transfer",
            detail={"partner": partner, "reason": f"诉求发生地在北京市以外，建议一键转{hotline}", "bot": assessment.record}),
            ack=ack)
        return
    event = HistoryEvent(at=clock.now(), actor="router", event="routed",
                         detail={"decision": "forward", "hop": CASE_HOP, "reason": reason, "bot": assessment.record})
    await outbox.enqueue(ticket_id, CASE_HOP, event, ack=ack)


async def _held_as_duplicate(tickets: Tickets, ticket_id: str, ack: tuple[str, str, str] | None) -> bool:
    """Compare with the recent open requests; with candidates, record them on the ticket and
    hold it on the desk (疑似重复) instead of forwarding it: a merge must not follow a forward."""
    now = clock.now()
    ticket = await tickets.document(ticket_id)
    if ticket.urgency == "emergency":
        return False  # an emergency is never kept waiting for a person's look: a second forward is the lesser harm
    candidates = await duplicates.find(tickets.redis, ticket, now)
    if not candidates:
        return False

    def note(ticket: Ticket) -> dict[str, Any]:
        ticket.links.duplicates = candidates
        return {"candidates": [c.model_dump(mode="json", exclude={"at"}) for c in candidates],
                "reason": "与近期未办结的诉求相似，待坐席确认是否合并"}

    await tickets.update(ticket_id, note, HistoryEvent(at=now, actor="router", event="held_as_duplicate"), ack=ack)
    return True
