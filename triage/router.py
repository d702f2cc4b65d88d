"""The router reads every new ticket from the intake stream, lets the bot assess it and sends
it on.

Form tickets were filed deliberately, so they are always forwarded to the core case system
(a partner hotline's transfer waits for one of our agents to accept it); the bot's assessment
(kind, urgency and deadline, place) fills what the citizen left open, with provenance, and is
recorded with its reasons. Chat tickets were decided on the spot
by the chat itself. Enqueuing the outbox hop and acknowledging the intake entry are one Redis
step, so a crash never loses or doubles a hop.
"""
from __future__ import annotations

from typing import Any

from bot.decision import Conversation, Decision, decide
from gateway import clock, keys
from gateway.deadlines import due_at
from gateway.outbox import CASE_HOP, Outbox
from gateway.stream_worker import Fields, StreamWorker
from gateway.ticket import HistoryEvent, Location, Provenance, Ticket
from gateway.tickets import Tickets
from knowledge_base.live import LiveKnowledge

# Chats were decided by the bot on the spot, calls are decided by the agent on the line, and a
# request still being collected (WeChat 我要反映) is sent on by its channel once complete.
AGENT_DECIDED_MODES = {"chat", "call", "collecting", "partner"}
_URGENCY_RANK = {"normal": 0, "complex": 0, "utilities": 1, "emergency": 2}


class Router:
    def __init__(self, outbox: Outbox, tickets: Tickets, knowledge: LiveKnowledge, instance_id: str, claim_idle: float) -> None:
        self.outbox = outbox
        self.tickets = tickets
        self.knowledge = knowledge
        self.worker = StreamWorker(
            outbox.redis, keys.INTAKE_STREAM, keys.ROUTER_GROUP, instance_id, self._route,
            concurrency=32, claim_idle_seconds=claim_idle,
        )

    async def _route(self, entry_id: str, fields: Fields) -> None:
        ticket_id = fields["ticket"]
        if fields.get("mode") in AGENT_DECIDED_MODES:
            await self.outbox.redis.xack(keys.INTAKE_STREAM, keys.ROUTER_GROUP, entry_id)
            return
        if not self.knowledge.ready.is_set():
            # A freshly started worker delivers at once and loads the index beside it: only the
            # entries the bot assesses wait for it (outbox deliveries never do).
            await self.knowledge.ready.wait()
        ticket = await self.tickets.document(ticket_id)
        now = clock.now()
        decision = decide(ticket.content, Conversation(), ticket.channel, self.knowledge.snapshot, now)
        assessment = {k: v for k, v in decision.as_dict().items() if k != "reply"}
        probe = ticket.model_copy(deep=True)
        if _fill_in(probe, decision, now):
            # Only tickets the bot can complete are rewritten; the assessment itself travels in the
            # routing event below, so most tickets cost no extra write.
            await self.tickets.update(ticket_id, lambda t: _fill_in(t, decision, now),
                                      HistoryEvent(at=now, actor="bot", event="bot_assessed", detail=assessment))
        event = HistoryEvent(at=clock.now(), actor="router", event="routed",
                             detail={"decision": "forward", "hop": CASE_HOP, "reason": "市民提交的诉求，转派承办单位办理", "bot": assessment})
        await self.outbox.enqueue(ticket_id, CASE_HOP, event, ack=(keys.INTAKE_STREAM, keys.ROUTER_GROUP, entry_id))

def _fill_in(ticket: Ticket, decision: Decision, now: Any) -> dict[str, Any]:
    """Fill only what the citizen left open; never overwrite what a person stated."""
    filled: dict[str, Any] = {}
    if ticket.kind is None and decision.kind:
        ticket.kind = decision.kind
        filled["kind"] = decision.kind
        ticket.provenance.append(Provenance(field="kind", by="bot", at=now, detail="; ".join(decision.reasons)))
    urgency = decision.urgency or ("emergency" if decision.type == "emergency" else None)
    if urgency and _URGENCY_RANK.get(urgency, 0) > _URGENCY_RANK.get(ticket.urgency, 0):
        ticket.urgency = urgency
        ticket.due_at = due_at(ticket.received_at, urgency)
        filled["urgency"] = urgency
        ticket.provenance.append(Provenance(field="urgency", by="bot", at=now, detail="; ".join(decision.reasons)))
    if decision.location and (ticket.location is None or not ticket.location.district):
        place = decision.location
        ticket.location = (ticket.location or Location()).model_copy(update={
            "district": place.get("district"), "district_code": place.get("district_code"),
            "street": (ticket.location.street if ticket.location else None) or place.get("street"),
        })
        filled["location"] = place
        ticket.provenance.append(Provenance(field="location", by="bot", at=now, detail="从诉求内容中识别"))
    return {"filled": filled} if filled else {}
