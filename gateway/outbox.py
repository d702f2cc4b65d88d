"""The outbox: at-least-once delivery of tickets to the case system, partner hotlines and WeChat.

One stream entry per (ticket, hop). The idempotency key sent downstream is `<ticket id>:<hop>`,
so a redelivery after a crash is recognised by the receiver. Each attempt is written to the
ticket's delivery ledger in the same transaction that acknowledges the entry. Retryable failures
wait in a sorted set (exponential backoff, full jitter) and are put back on the stream when due;
past the retry horizon, or on a 4xx, the entry goes to the dead-letter stream.
"""
from __future__ import annotations

import json
import logging
import random
import time
from typing import Any

from redis.asyncio import Redis

from gateway import clock, keys
from gateway.delivery_targets import DeliveryResult, DeliveryTarget
from gateway.metrics import Metrics
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
        self.worker = StreamWorker(
            redis, keys.OUTBOX_STREAM, keys.OUTBOX_GROUP, instance_id, self._deliver,
            concurrency=concurrency, claim_idle_seconds=claim_idle,
        )

    def target(self, hop: str) -> DeliveryTarget:
        return self.targets.get(hop) or self.targets[hop_family(hop)]

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

    async def redrive(self, dead_entry_id: str, actor: str) -> str | None:
        """Put a dead letter back on the outbox as a fresh first attempt."""
        entries = await self.redis.xrange(keys.DEAD_LETTER_STREAM, dead_entry_id, dead_entry_id)
        if not entries:
            return None
        fields = {k.decode(): v.decode() for k, v in entries[0][1].items()}
        event = HistoryEvent(at=clock.now(), actor=actor, event="redriven", detail={"hop": fields["hop"]})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(keys.OUTBOX_STREAM, {"ticket": fields["ticket"], "hop": fields["hop"], "attempt": "1", "first_at": str(clock.now_ms())})
            pipe.xdel(keys.DEAD_LETTER_STREAM, dead_entry_id)
            pipe.rpush(keys.history(fields["ticket"]), event.model_dump_json())
            await pipe.execute()
        return fields["ticket"]

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
        body = _outbound(ticket)
        started = time.perf_counter()
        result = await target.deliver(body, f"{ticket_id}:{hop}")
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
            status_code=result.status_code, case_id=result.case_id, error=result.error,
            duration_ms=round(duration_ms, 1), instance=self.instance_id, **extra,
        )

    def _ack(self, pipe: Any, entry_id: str) -> None:
        pipe.xack(keys.OUTBOX_STREAM, keys.OUTBOX_GROUP, entry_id)
        pipe.xdel(keys.OUTBOX_STREAM, entry_id)

    async def _delivered(self, entry_id: str, ticket_id: str, hop: str, attempt: int, target: str, result: DeliveryResult, duration_ms: float, doc: str) -> None:
        record = self._attempt(hop, attempt, target, "delivered", result, duration_ms)

        recorder = getattr(self.target(hop), "record_delivery", None)

        def change(ticket: Ticket) -> None:
            if hop == CASE_HOP:
                ticket.disposition = Forwarded(at=record.at, target=target, case_id=result.case_id or "")
                ticket.status = Status.forwarded
            elif recorder is not None:  # e.g. a partner transfer's receipt becomes the disposition
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


def _outbound(ticket: Ticket) -> bytes:
    """What the case system receives: the ticket without our delivery bookkeeping."""
    return ticket.model_dump_json(by_alias=True, exclude={"deliveries"}).encode()
