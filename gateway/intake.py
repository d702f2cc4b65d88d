"""Intake: the only writer of new tickets. Every channel calls `intake()`.

One Lua script does the whole thing atomically: check the (channel, channel id) idempotency key,
allocate the day's sequence number, store the ticket, index it, append the intake stream entry,
publish the live event and count it (gateway/derived.py: rates, callback list, open requests). The sender is acknowledged only after the script returns, so an
acknowledged ticket is in Redis (and in its AOF within the fsync policy).
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from gateway import derived, keys
from gateway.clock import beijing_date
from gateway.derived import APPLY_LUA
from gateway.rate_limits import RateLimit
from gateway.redis_values import text
from gateway.script_batch import BatchedScript
from gateway.summaries import summary
from gateway.ticket import PENDING_ID, HistoryEvent, Ticket

log = logging.getLogger(__name__)

_INTAKE_LUA = APPLY_LUA + """
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
local limits = tonumber(ARGV[10])
for i = 1, limits do
  local count = redis.call('INCR', KEYS[5 + i])
  if count == 1 then redis.call('EXPIRE', KEYS[5 + i], ARGV[10 + 2 * i]) end
  if count > tonumber(ARGV[9 + 2 * i]) then return {-i, ''} end
end
local n = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 259200)
local id = ARGV[1] .. '-' .. ARGV[2] .. '-' .. string.format('%06d', n)
local doc = string.gsub(ARGV[3], '__TICKET_ID__', id, 1)
local tkey = ARGV[9] .. 't:' .. id
redis.call('SET', tkey, doc)
redis.call('RPUSH', tkey .. ':history', ARGV[4])
redis.call('SET', KEYS[1], id)
redis.call('ZADD', KEYS[4], ARGV[5], id)
if ARGV[6] ~= '' then redis.call('ZADD', ARGV[9] .. 'phone:' .. ARGV[6], ARGV[5], id) end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', '1000000', '*', 'ticket', id, 'channel', ARGV[8], 'mode', ARGV[11 + 2 * limits])
redis.call('PUBLISH', KEYS[5], (string.gsub(ARGV[7], '__TICKET_ID__', id)))
apply_derived(12 + 2 * limits, id)
return {1, id}
"""


@dataclass(frozen=True)
class IntakeResult:
    ticket_id: str | None
    created: bool
    limited_by: RateLimit | None = None
    retry_after: int = 0


class Intake:
    def __init__(self, redis: Redis, ticket_prefix: str = "BJ") -> None:
        self.redis = redis
        self.ticket_prefix = ticket_prefix
        self._script = BatchedScript(redis, _INTAKE_LUA)

    async def __call__(self, ticket: Ticket, actor: str = "system", limits: Sequence[RateLimit] = ()) -> IntakeResult:
        """Store a new ticket once per (channel, channel id). A repeat returns the first ticket's
        id without touching `limits`; a new ticket over one of `limits` is not stored."""
        if ticket.id != PENDING_ID:
            raise ValueError("intake allocates ticket ids; pass a ticket with the pending id")
        created_event = HistoryEvent(
            at=ticket.received_at, actor=actor, event="received", detail={"channel": ticket.channel}
        )
        live_event = json.dumps({"type": "ticket.created", "ticket": summary(ticket)}, ensure_ascii=False)
        now = time.time()
        outcome, ticket_id = await self._script(
            [
                keys.idempotency(ticket.channel, ticket.source.channel_id),
                keys.sequence(beijing_date(ticket.received_at)),
                keys.INTAKE_STREAM,
                keys.RECENT_TICKETS,
                keys.events_channel(self.redis),
                *(limit.key(now) for limit in limits),
            ],
            [
                self.ticket_prefix,
                beijing_date(ticket.received_at),
                ticket.stored_json(),
                created_event.model_dump_json(),
                int(ticket.received_at.timestamp() * 1000),
                ticket.requester.phone or "",
                live_event,
                ticket.channel,
                keys.P,
                len(limits),
                *(value for limit in limits for value in (limit.limit, limit.window_seconds + 1)),
                ticket.source.extra.get("mode", ""),
                *derived.changes(None, ticket),  # the new ticket's counters and indexes
            ],
        )
        if outcome < 0:
            hit = limits[-outcome - 1]
            return IntakeResult(ticket_id=None, created=False, limited_by=hit, retry_after=hit.retry_after(now))
        ticket_id = text(ticket_id)
        log.info("ticket %s", "created" if outcome else "duplicate", extra={"ticket": ticket_id, "channel": ticket.channel})
        return IntakeResult(ticket_id=ticket_id, created=bool(outcome))
