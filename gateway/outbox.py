"""The outbox: at-least-once delivery of tickets to the case system, partner hotlines and WeChat.

One stream entry per (ticket, hop). The idempotency key sent downstream is `<ticket id>:<hop>`,
so a redelivery after a crash is recognised by the receiver. Each attempt is written to the
ticket's delivery ledger in the same transaction that acknowledges the entry. Retryable failures
wait in a sorted set (exponential backoff, full jitter) and are put back on the stream when due;
past the retry horizon, or on a 4xx, the entry goes to the dead-letter stream. A supervisor's
re-drive moves a dead letter back exactly once (one Lua step: XDEL, and only if that removed it,
XADD and the history event), however many supervisors or instances re-drive it at once.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from gateway import clock, keys
from gateway.delivery_targets import DeliveryResult, DeliveryTarget
from gateway.metrics import Metrics
from gateway.redis_values import text, text_fields
from gateway.script_batch import BatchedScript
from gateway.stream_worker import Fields, StreamWorker
from gateway.ticket import DeliveryAttempt, Forwarded, HistoryEvent, Status, Ticket
from gateway.tickets import TicketNotFound, Tickets

log = logging.getLogger(__name__)

CASE_HOP = "case"

_ENQUEUE_LUA = """
local created = 0
if redis.call('SET', KEYS[1], ARGV[3], 'NX') then
  redis.call('XADD', KEYS[2], '*', 'ticket', ARGV[1], 'hop', ARGV[2], 'attempt', '1', 'first_at', ARGV[3])
  redis.call('RPUSH', KEYS[3], ARGV[4])
  created = 1
end
if ARGV[5] ~= '' then redis.call('XACK', KEYS[4], ARGV[6], ARGV[5]) end
return created
"""

_RELEASE_DUE_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 200)
for _, member in ipairs(due) do
  local e = cjson.decode(member)
  redis.call('XADD', KEYS[2], '*', 'ticket', e.ticket, 'hop', e.hop, 'attempt', e.attempt, 'first_at', e.first_at)
  redis.call('ZREM', KEYS[1], member)
end
return #due
"""


# Re-drive, exactly once: only the caller whose XDEL removed the dead letter puts it back on the
# outbox, so two supervisors (or two instances) re-driving the same entry make one delivery.
# The caller has read the entry (ticket, hop) first; stream ids are never reused, so what it read
# is what this removes. KEYS: dead letters, outbox, ticket history, tombstone.
# ARGV: entry id, ticket, hop, now ms, history event, tombstone ttl seconds.
_REDRIVE_LUA = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'ticket', ARGV[2], 'hop', ARGV[3], 'attempt', '1', 'first_at', ARGV[4])
redis.call('RPUSH', KEYS[3], ARGV[5])
redis.call('SET', KEYS[4], ARGV[2], 'EX', ARGV[6])
return 1
"""

REDRIVEN, ALREADY_REDRIVEN, NOT_FOUND = "redriven", "already_redriven", "not_found"
REDRIVEN_TOMBSTONE_SECONDS = 7 * 86400
DEAD_LETTER_PAGE_MAX = 500
_FILTER_CHUNK = 200  # dead letters read per round trip while a filter skips entries
_FILTER_SCAN_CAP = 5000  # at most this many examined per page; the `next` cursor resumes after them


def is_stream_id(entry_id: str) -> bool:
    """`<ms>-<seq>` with both parts 64-bit unsigned decimals: anything else makes Redis fail."""
    ms, sep, seq = entry_id.partition("-")
    return bool(sep) and all(p.isascii() and p.isdigit() and len(p) <= 20 and int(p) < 2**64 for p in (ms, seq))


@dataclass
class Redrive:
    outcome: str  # REDRIVEN | ALREADY_REDRIVEN | NOT_FOUND
    ticket_id: str | None = None
    hop: str | None = None


@dataclass
class RedriveCounts:
    redriven: int = 0
    already_gone: int = 0  # re-driven by someone else meanwhile, or no such dead letter

    def add(self, result: Redrive) -> None:
        if result.outcome == REDRIVEN:
            self.redriven += 1
        else:
            self.already_gone += 1


@dataclass
class DeadLetterPage:
    items: list[dict[str, Any]]
    next: str | None  # pass as `before` for the next (older) page; None = no more
    total: int  # all dead letters, unfiltered (XLEN)


def dead_letter_item(entry_id: Any, raw: Any) -> dict[str, Any]:
    f = text_fields(raw)
    return {
        "entry_id": text(entry_id), "ticket_id": f["ticket"], "hop": f["hop"],
        "reason": f.get("reason"), "status_code": int(f["status_code"]) if f.get("status_code") else None,
        "at": f.get("at"), "attempts": int(f.get("attempts", "1")),
    }


def hop_matches(hop: str, wanted: str | None) -> bool:
    """A filter names a hop (`partner:tj`) or a hop family (`partner`, `wx-reply`)."""
    return wanted is None or hop == wanted or hop_family(hop) == wanted


def hop_family(hop: str) -> str:
    """`wx-reply:msg:123` -> `wx-reply`: per-message hops share one target and one metric label."""
    return hop.partition(":")[0]


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Full jitter: uniform in [0, min(cap, base·2^(attempt-1))], never below a tenth of base."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return max(base / 10, random.uniform(0, ceiling))


class Outbox:
    def __init__(
        self,
        redis: Redis,
        tickets: Tickets,
        targets: dict[str, DeliveryTarget],
        metrics: Metrics,
        instance_id: str,
        retry_horizon: float,
        backoff_base: float,
        backoff_cap: float,
        claim_idle: float,
        concurrency: int,
    ) -> None:
        self.redis = redis
        self.tickets = tickets
        self.targets = targets
        self.metrics = metrics
        self.instance_id = instance_id
        self.retry_horizon = retry_horizon
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._enqueue = BatchedScript(redis, _ENQUEUE_LUA)
        self._release_due = redis.register_script(_RELEASE_DUE_LUA)
        self._redrive = BatchedScript(redis, _REDRIVE_LUA)
        self.worker = StreamWorker(
            redis, keys.OUTBOX_STREAM, keys.OUTBOX_GROUP, instance_id, self._deliver,
            concurrency=concurrency, claim_idle_seconds=claim_idle,
        )

    def target(self, hop: str) -> DeliveryTarget:
        return self.targets.get(hop) or self.targets[hop_family(hop)]

    def delivers(self, hop: str) -> bool:
        """Whether some part registered a target for this hop (a channel's hops exist only
        when the channel is configured)."""
        return hop in self.targets or hop_family(hop) in self.targets

    async def enqueue(
        self, ticket_id: str, hop: str, event: HistoryEvent, ack: tuple[str, str, str] | None = None
    ) -> bool:
        """Queue one hop of a ticket, once: returns False when that hop was already queued.
        `ack` = (stream, group, entry id) is acknowledged in the same step."""
        stream, group, entry_id = ack or ("", "", "")
        created = await self._enqueue(
            [keys.hop_marker(ticket_id, hop), keys.OUTBOX_STREAM, keys.history(ticket_id), stream or keys.OUTBOX_STREAM],
            [ticket_id, hop, str(clock.now_ms()), event.model_dump_json(), entry_id, group],
        )
        return bool(created)

    async def release_due_retries(self) -> int:
        return int(await self._release_due(keys=[keys.OUTBOX_RETRY_ZSET, keys.OUTBOX_STREAM], args=[clock.now_ms()]))

    async def lag(self) -> int:
        """Deliveries not yet done: on the stream (unread or in flight) plus waiting to retry."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(keys.OUTBOX_STREAM)
            pipe.zcard(keys.OUTBOX_RETRY_ZSET)
            on_stream, waiting = await pipe.execute()
        return int(on_stream) + int(waiting)

    # -- dead letters ---------------------------------------------------------------------------

    async def dead_letters(self, before: str | None = None, limit: int = 100, hop: str | None = None) -> DeadLetterPage:
        """Newest first, `limit` at a time; `before` is the exclusive cursor (a `next` from the
        previous page). With a hop filter a page examines at most a few thousand entries and may
        come back short (even empty) with a `next` to go on from."""
        limit = max(1, min(limit, DEAD_LETTER_PAGE_MAX))
        cursor = f"({before}" if before else "+"
        chunk = limit if hop is None else _FILTER_CHUNK
        items: list[dict[str, Any]] = []
        last: str | None = None
        scanned, exhausted = 0, False
        total = int(await self.redis.xlen(keys.DEAD_LETTER_STREAM))
        if before is not None and all(int(p) == 0 for p in before.split("-")):
            return DeadLetterPage([], None, total)  # nothing is older than 0-0 (and Redis refuses "(0-0")
        while len(items) < limit and scanned < _FILTER_SCAN_CAP:
            rows = await self.redis.xrevrange(keys.DEAD_LETTER_STREAM, max=cursor, min="-", count=chunk) or []
            for entry_id, raw in rows:
                last = text(entry_id)
                scanned += 1
                item = dead_letter_item(last, raw)
                if hop_matches(item["hop"], hop):
                    items.append(item)
                    if len(items) == limit:
                        break
            if len(rows) < chunk and (not rows or last == text(rows[-1][0])):
                exhausted = True  # read to the oldest entry
                break
            cursor = f"({last}"
        if last is not None and not exhausted:
            exhausted = not await self.redis.xrevrange(keys.DEAD_LETTER_STREAM, max=f"({last}", min="-", count=1)
        return DeadLetterPage(items, None if exhausted or last is None else last, total)

    async def redrive(self, dead_entry_id: str, actor: str, bulk: bool = False) -> Redrive:
        """Put a dead letter back on the outbox as a fresh first attempt, exactly once: of any
        number of concurrent re-drives of one entry, one gets REDRIVEN, the others
        ALREADY_REDRIVEN (NOT_FOUND when there never was such an entry)."""
        return (await self.redrive_many([dead_entry_id], actor, bulk=bulk))[0]

    async def redrive_many(self, entry_ids: list[str], actor: str, bulk: bool = True) -> list[Redrive]:
        """Each entry through the same exactly-once script; one round trip to read, one to move.
        One result per distinct id, in order (a repeated id is one entry)."""
        unique = list(dict.fromkeys(entry_ids))
        ids = [i for i in unique if is_stream_id(i)]
        results = {i: Redrive(NOT_FOUND) for i in unique}
        if ids:
            async with self.redis.pipeline(transaction=False) as pipe:
                for entry_id in ids:
                    pipe.xrange(keys.DEAD_LETTER_STREAM, entry_id, entry_id)
                    pipe.exists(keys.redriven(entry_id))
                replies = await pipe.execute()
            found: list[tuple[str, dict[str, str]]] = []
            for n, entry_id in enumerate(ids):
                rows, tombstone = replies[2 * n], replies[2 * n + 1]
                if rows:
                    found.append((entry_id, {k.decode(): v.decode() for k, v in rows[0][1].items()}))
                elif tombstone:
                    results[entry_id] = Redrive(ALREADY_REDRIVEN)
            moved = await asyncio.gather(*(self._redrive_one(entry_id, fields, actor, bulk) for entry_id, fields in found))
            for (entry_id, fields), ok in zip(found, moved):
                results[entry_id] = Redrive(REDRIVEN if ok else ALREADY_REDRIVEN, fields["ticket"], fields["hop"])
        return [results[i] for i in unique]

    async def _redrive_one(self, entry_id: str, fields: dict[str, str], actor: str, bulk: bool) -> bool:
        ticket_id, hop = fields["ticket"], fields["hop"]
        detail: dict[str, Any] = {"hop": hop, "dead_letter": entry_id}
        if bulk:
            detail["bulk"] = True
        event = HistoryEvent(at=clock.now(), actor=actor, event="redriven", detail=detail)
        moved = await self._redrive(
            [keys.DEAD_LETTER_STREAM, keys.OUTBOX_STREAM, keys.history(ticket_id), keys.redriven(entry_id)],
            [entry_id, ticket_id, hop, str(clock.now_ms()), event.model_dump_json(), REDRIVEN_TOMBSTONE_SECONDS],
        )
        if moved:
            log.info("dead letter re-driven", extra={"ticket": ticket_id, "hop": hop, "entry": entry_id, "actor": actor})
        return bool(moved)

    async def redrive_matching(self, actor: str, hop: str | None = None, batch: int = 200) -> RedriveCounts:
        """Re-drive every dead letter (of a hop or hop family), oldest first, in batches. Only
        entries that were there when it started: one that fails again meanwhile comes back as a
        new dead letter and is left for the next look, so this always ends."""
        counts = RedriveCounts()
        newest = await self.redis.xrevrange(keys.DEAD_LETTER_STREAM, count=1)
        if not newest:
            return counts
        upper, cursor = text(newest[0][0]), "-"
        while True:
            rows = await self.redis.xrange(keys.DEAD_LETTER_STREAM, min=cursor, max=upper, count=batch)
            if not rows:
                break
            wanted = [text(e) for e, raw in rows if hop_matches(text_fields(raw)["hop"], hop)]
            for result in await self.redrive_many(wanted, actor):
                counts.add(result)
            if len(rows) < batch:
                break
            cursor = "(" + text(rows[-1][0])
        return counts

    # -- delivery -----------------------------------------------------------------------------

    async def _deliver(self, entry_id: str, fields: Fields) -> None:
        ticket_id, hop = fields["ticket"], fields["hop"]
        attempt, first_at = int(fields["attempt"]), int(fields["first_at"])
        target = self.target(hop)
        try:
            ticket, doc = await self.tickets.get_with_doc(ticket_id)
        except TicketNotFound:
            await self._dead_letter(entry_id, ticket_id, hop, attempt, target.name, DeliveryResult("reject", error="ticket missing"), 0.0)
            return
        started = time.perf_counter()
        result = await target.deliver(ticket, hop)
        duration_ms = (time.perf_counter() - started) * 1000
        self.metrics.delivery_attempts.labels(hop=hop_family(hop), outcome=result.outcome).inc()
        if result.outcome == "delivered":
            await self._delivered(entry_id, ticket_id, hop, attempt, target.name, result, duration_ms, doc)
        elif result.outcome == "retry" and (clock.now_ms() - first_at) / 1000 < self.retry_horizon:
            await self._schedule_retry(entry_id, ticket_id, hop, attempt, first_at, target.name, result, duration_ms)
        else:
            if result.outcome == "retry":
                result = DeliveryResult("reject", result.status_code, error=f"retry horizon exceeded; last error: {result.error}")
            await self._dead_letter(entry_id, ticket_id, hop, attempt, target.name, result, duration_ms)

    def _attempt(self, hop: str, attempt: int, target: str, outcome: str, result: DeliveryResult, duration_ms: float, **extra: Any) -> DeliveryAttempt:
        return DeliveryAttempt(
            hop=hop, attempt=attempt, at=clock.now(), outcome=outcome, target=target,
            status_code=result.status_code, case_id=result.case_id, error=result.error, note=result.note,
            duration_ms=round(duration_ms, 1), instance=self.instance_id, **extra,
        )

    def _ack(self, pipe: Any, entry_id: str) -> None:
        pipe.xack(keys.OUTBOX_STREAM, keys.OUTBOX_GROUP, entry_id)
        pipe.xdel(keys.OUTBOX_STREAM, entry_id)

    async def _delivered(self, entry_id: str, ticket_id: str, hop: str, attempt: int, target: str, result: DeliveryResult, duration_ms: float, doc: str) -> None:
        record = self._attempt(hop, attempt, target, "delivered", result, duration_ms)

        recorder = self.target(hop).record_delivery

        def change(ticket: Ticket) -> None:
            if hop == CASE_HOP:
                ticket.disposition = Forwarded(at=record.at, target=target, case_id=result.case_id or "")
                if ticket.status != Status.closed:  # the case system may report 办结 before our ledger has its receipt
                    ticket.status = Status.forwarded
            else:  # e.g. a partner transfer's receipt becomes the disposition
                recorder(ticket, hop, record)
            return None

        event = HistoryEvent(at=record.at, actor="outbox", event="delivered", detail={"hop": hop, "target": target, "case_id": result.case_id})
        await self.tickets.update(ticket_id, change, event, ledger=record, ack=(keys.OUTBOX_STREAM, keys.OUTBOX_GROUP, entry_id), known_doc=doc)

    async def _schedule_retry(self, entry_id: str, ticket_id: str, hop: str, attempt: int, first_at: int, target: str, result: DeliveryResult, duration_ms: float) -> None:
        delay = backoff_seconds(attempt, self.backoff_base, self.backoff_cap)
        due_ms = clock.now_ms() + int(delay * 1000)
        record = self._attempt(hop, attempt, target, "retry", result, duration_ms, next_attempt_at=clock.from_ms(due_ms))
        member = json.dumps({"ticket": ticket_id, "hop": hop, "attempt": str(attempt + 1), "first_at": str(first_at), "entry": entry_id})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(keys.OUTBOX_RETRY_ZSET, {member: due_ms})
            pipe.rpush(keys.deliveries(ticket_id), record.model_dump_json())
            self._ack(pipe, entry_id)
            await pipe.execute()
        log.info("delivery will be retried", extra={"ticket": ticket_id, "hop": hop, "attempt": attempt, "delay_s": round(delay, 2), "error": result.error, "status": result.status_code})

    async def _dead_letter(self, entry_id: str, ticket_id: str, hop: str, attempt: int, target: str, result: DeliveryResult, duration_ms: float) -> None:
        record = self._attempt(hop, attempt, target, "dead_letter", result, duration_ms)
        event = HistoryEvent(at=record.at, actor="outbox", event="dead_lettered", detail={"hop": hop, "status_code": result.status_code, "reason": result.error})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(keys.DEAD_LETTER_STREAM, {
                "ticket": ticket_id, "hop": hop, "attempts": str(attempt), "status_code": str(result.status_code or ""),
                "reason": (result.error or "")[:500], "at": record.at.isoformat(),
            })
            pipe.rpush(keys.deliveries(ticket_id), record.model_dump_json())
            pipe.rpush(keys.history(ticket_id), event.model_dump_json())
            self._ack(pipe, entry_id)
            await pipe.execute()
        self.metrics.dead_letters.labels(hop=hop_family(hop)).inc()
        log.warning("delivery dead-lettered", extra={"ticket": ticket_id, "hop": hop, "status": result.status_code, "error": result.error})
