"""Agents' corrections of what triage proposed (kind, place, topic, handling unit), kept as
training data: each correction is one entry in a capped Redis stream with the citizen's text,
what the bot said and what the agent set. `hotline bot corrections --export` writes them as JSON
lines a classifier can learn from."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from gateway import keys
from gateway.redis_values import text
from gateway.ticket import Ticket
from triage.assessment import request_text

MAX_KEPT = 200_000  # about a year of corrections at Beijing's volume


async def record(redis: Redis, ticket: Ticket, changes: dict[str, dict[str, Any]], agent: str, at: datetime) -> None:
    """Keep the corrections among `changes` ({field: {"from", "to"}}) of values a machine had filled."""
    machine_filled = {p.field for p in ticket.provenance if p.by == "bot" or p.by.startswith("asr")}
    kept = {f: c for f, c in changes.items() if f in machine_filled or f == "dispatch"}
    if not kept:
        return
    await redis.xadd(keys.TRIAGE_CORRECTIONS, {"doc": json.dumps({
        "ticket_id": ticket.id, "channel": ticket.channel, "at": at.isoformat(), "agent": agent,
        "text": request_text(ticket)[:4000], "changes": kept,
    }, ensure_ascii=False, default=str)}, maxlen=MAX_KEPT, approximate=True)


async def export(redis: Redis, batch: int = 1000) -> AsyncIterator[dict[str, Any]]:
    """Every kept correction, oldest first."""
    after = "-"
    while True:
        rows = await redis.xrange(keys.TRIAGE_CORRECTIONS, min=after, max="+", count=batch) or []
        for entry_id, fields in rows:
            raw = (fields.get(b"doc") or fields.get("doc")) if fields is not None else None
            if raw is not None:
                yield {"id": text(entry_id), **json.loads(raw)}
        if len(rows) < batch:
            return
        last = rows[-1][0]
        assert last is not None  # XRANGE always gives an entry's id (redis-py types it as optional)
        after = "(" + text(last)
