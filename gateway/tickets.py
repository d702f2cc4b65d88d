"""Reading and changing stored tickets (creation belongs to `intake`)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from gateway import clock, derived, keys
from gateway.derived import APPLY_LUA
from gateway.redis_values import text
from gateway.script_batch import BatchedScript
from gateway.summaries import summary
from gateway.ticket import DeliveryAttempt, HistoryEvent, Ticket


class TicketNotFound(KeyError):
    pass


_UPDATE_LUA = APPLY_LUA + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
apply_derived(8, '')
if ARGV[3] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('RPUSH', KEYS[3], ARGV[4]) end
if ARGV[5] ~= '' then redis.call('PUBLISH', KEYS[4], ARGV[5]) end
if ARGV[7] ~= '' then
  redis.call('XACK', KEYS[5], ARGV[6], ARGV[7])
  redis.call('XDEL', KEYS[5], ARGV[7])
end
return 1
"""


class Tickets:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._update_script = BatchedScript(redis, _UPDATE_LUA)

    async def document(self, ticket_id: str) -> Ticket:
        """The stored document alone (no history or ledger): one read, for hot paths."""
        raw = await self.redis.get(keys.ticket(ticket_id))
        if raw is None:
            raise TicketNotFound(ticket_id)
        return Ticket.model_validate_json(raw)

    async def get(self, ticket_id: str) -> Ticket:
        return (await self.get_with_doc(ticket_id))[0]

    async def exists(self, ticket_id: str) -> bool:
        return bool(await self.redis.exists(keys.ticket(ticket_id)))

    async def get_with_doc(self, ticket_id: str) -> tuple[Ticket, str]:
        """The ticket and its stored document, for a later compare-and-set `update`."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.ticket(ticket_id))
            pipe.lrange(keys.history(ticket_id), 0, -1)
            pipe.lrange(keys.deliveries(ticket_id), 0, -1)
            doc, history, deliveries = await pipe.execute()
        if doc is None:
            raise TicketNotFound(ticket_id)
        ticket = Ticket.model_validate_json(doc)
        ticket.history = [HistoryEvent.model_validate_json(h) for h in history]
        ticket.deliveries = [DeliveryAttempt.model_validate_json(d) for d in deliveries]
        return ticket, text(doc)

    async def update(
        self,
        ticket_id: str,
        change: Callable[[Ticket], dict[str, Any] | None],
        event: HistoryEvent | None,
        ledger: DeliveryAttempt | None = None,
        ack: tuple[str, str, str] | None = None,
        known_doc: str | None = None,
        publish: bool = True,
    ) -> Ticket:
        """Apply `change` to the stored ticket and append `event` (with whatever detail `change`
        returns) to its history, as one compare-and-set step; on a concurrent edit, read again
        and reapply. `event` None records no history (a transcript line is not an event worth
        listing); the rate counters and indexes that follow from the ticket (gateway/derived.py)
        move in the same step; `publish` False sends no `ticket.updated` to every desk (the channel pushes
        its own event to the desks concerned). `ledger` and `ack` = (stream, group, entry id) land in the same step, so an
        outbox entry is acknowledged exactly when its effect is stored."""
        doc = known_doc
        while True:
            if doc is None:
                raw = await self.redis.get(keys.ticket(ticket_id))
                if raw is None:
                    raise TicketNotFound(ticket_id)
                doc = text(raw)
            before = Ticket.model_validate_json(doc)
            ticket = before.model_copy(deep=True)
            detail = change(ticket)
            ticket.updated_at = clock.now()
            recorded = event.model_copy(update={"detail": {**event.detail, **(detail or {})}}) if event else None
            stream, group, entry_id = ack or ("", "", "")
            stored = await self._update_script(
                [keys.ticket(ticket_id), keys.history(ticket_id), keys.deliveries(ticket_id), keys.events_channel(self.redis), stream or keys.events_channel(self.redis)],
                [doc, ticket.stored_json(), recorded.model_dump_json() if recorded else "", ledger.model_dump_json() if ledger else "", _updated_event(ticket) if publish else "", group, entry_id,
                 *derived.changes(before, ticket)],  # counters and indexes move with the write
            )
            if stored:
                return ticket
            doc = None  # someone else changed it first: start from their version

    async def append_event(self, ticket_id: str, event: HistoryEvent) -> None:
        """Append to the ticket's history without touching the document (one round trip)."""
        await self.redis.rpush(keys.history(ticket_id), event.model_dump_json())

    async def recent(self, limit: int = 50, before_ms: int | None = None) -> list[dict[str, Any]]:
        upper = f"({before_ms}" if before_ms else "+inf"
        ids = await self.redis.zrevrangebyscore(keys.RECENT_TICKETS, upper, "-inf", start=0, num=limit)
        return [summary(t) for t in await documents(self.redis, [text(i) for i in ids])]


async def documents(redis: Redis, ids: list[str]) -> list[Ticket]:
    """The stored documents of `ids` (in order; ids without one are left out): one MGET."""
    docs = await redis.mget([keys.ticket(i) for i in ids]) if ids else []
    return [Ticket.model_validate_json(d) for d in docs if d is not None]


def _updated_event(ticket: Ticket) -> str:
    return json.dumps({"type": "ticket.updated", "ticket": summary(ticket)}, ensure_ascii=False)
