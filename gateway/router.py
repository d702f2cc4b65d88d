"""The router reads every new ticket from the intake stream and decides where it goes.

Until the knowledge-base bot lands (issue 3), every ticket is forwarded to the core case system;
the decision and its reason are recorded on the ticket. Enqueuing the outbox hop and
acknowledging the intake entry are one Redis step, so a crash never loses or doubles a hop.
"""
from __future__ import annotations

from gateway import clock, keys
from gateway.outbox import CASE_HOP, Outbox
from gateway.stream_worker import Fields, StreamWorker
from gateway.ticket import HistoryEvent


class Router:
    def __init__(self, outbox: Outbox, instance_id: str, claim_idle: float) -> None:
        self.outbox = outbox
        self.worker = StreamWorker(
            outbox.redis, keys.INTAKE_STREAM, keys.ROUTER_GROUP, instance_id, self._route,
            concurrency=32, claim_idle_seconds=claim_idle,
        )

    async def _route(self, entry_id: str, fields: Fields) -> None:
        ticket_id = fields["ticket"]
        if fields.get("mode") == "chat":
            # The portal chat decided on the spot (answer, diversion or an offer of the form).
            await self.outbox.redis.xack(keys.INTAKE_STREAM, keys.ROUTER_GROUP, entry_id)
            return
        event = HistoryEvent(
            at=clock.now(), actor="router", event="routed",
            detail={"decision": "forward", "hop": CASE_HOP, "reason": "尚未接入知识库自动答复，转派承办单位"},
        )
        await self.outbox.enqueue(ticket_id, CASE_HOP, event, ack=(keys.INTAKE_STREAM, keys.ROUTER_GROUP, entry_id))
