"""Reading and changing stored tickets (creation belongs to `intake`)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from gateway import clock, keys
from gateway.summaries import summary
from gateway.ticket import HistoryEvent, Ticket


class TicketNotFound(KeyError):
    pass


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class Tickets:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, ticket_id: str) -> Ticket:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.ticket(ticket_id))
            pipe.lrange(keys.history(ticket_id), 0, -1)
            pipe.lrange(keys.deliveries(ticket_id), 0, -1)
            doc, history, deliveries = await pipe.execute()
        if doc is None:
            raise TicketNotFound(ticket_id)
        data = json.loads(doc)
        data["history"] = [json.loads(h) for h in history]
        data["deliveries"] = [json.loads(d) for d in deliveries]
        return Ticket.model_validate(data)

    async def exists(self, ticket_id: str) -> bool:
        return bool(await self.redis.exists(keys.ticket(ticket_id)))

    async def update(
        self,
        ticket_id: str,
        change: Callable[[Ticket], dict[str, Any] | None],
        event: HistoryEvent,
        extra: Callable[[Pipeline], None] | None = None,
    ) -> Ticket:
        """Apply `change` to the stored ticket with optimistic locking, append `event` to its
        history (with whatever detail `change` returns) and publish the update. `extra` adds commands to the same transaction (e.g. the
        outbox acknowledging its stream entry), so the change and the ack land together."""
        key = keys.ticket(ticket_id)
        while True:
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    doc = await pipe.get(key)
                    if doc is None:
                        raise TicketNotFound(ticket_id)
                    ticket = Ticket.model_validate_json(doc)
                    detail = change(ticket)
                    ticket.updated_at = clock.now()
                    recorded = event.model_copy(update={"detail": {**event.detail, **(detail or {})}})
                    pipe.multi()
                    pipe.set(key, ticket.stored_json())
                    pipe.rpush(keys.history(ticket_id), recorded.model_dump_json())
                    if extra is not None:
                        extra(pipe)
                    pipe.publish(keys.EVENTS_CHANNEL, _updated_event(ticket))
                    await pipe.execute()
                    return ticket
                except WatchError:
                    continue

    async def add_history(self, ticket_id: str, event: HistoryEvent) -> None:
        await self.redis.rpush(keys.history(ticket_id), event.model_dump_json())

    async def recent(self, limit: int = 50, before_ms: int | None = None) -> list[dict[str, Any]]:
        upper = f"({before_ms}" if before_ms else "+inf"
        ids = await self.redis.zrevrangebyscore(keys.RECENT_TICKETS, upper, "-inf", start=0, num=limit)
        if not ids:
            return []
        docs = await self.redis.mget([keys.ticket(_text(i)) for i in ids])
        return [summary(Ticket.model_validate_json(d)) for d in docs if d is not None]

    async def ids_for_phone(self, e164: str, limit: int = 20) -> list[str]:
        return [_text(i) for i in await self.redis.zrevrange(keys.by_phone(e164), 0, limit - 1)]


def _updated_event(ticket: Ticket) -> str:
    return json.dumps({"type": "ticket.updated", "ticket": summary(ticket)}, ensure_ascii=False)
