"""Rate limits and lock-outs in Redis, shared by all gateway instances.

`RateLimit`: fixed windows counting every hit (citizen portal, tracking, chat). `LockOut`: counts
failures only (desk logins). Both key on `gateway.client_address.client_address`, never on the
raw TCP peer, so a reverse proxy does not put every citizen into one bucket.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from gateway import keys
from gateway.settings import Settings


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` new tickets per `window_seconds` for one bucket (an IP, a phone number)."""

    bucket: str
    limit: int
    window_seconds: int

    def key(self, now: float) -> str:
        return keys.rate(f"{self.bucket}:{int(now) // self.window_seconds}")

    def retry_after(self, now: float) -> int:
        return self.window_seconds - int(now) % self.window_seconds


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.lockouts = LockOuts(redis)

    async def hit(self, limit: RateLimit) -> tuple[bool, int]:
        """Count one hit; returns (allowed, seconds until the window resets). Intake counts its
        own limits inside its script; this is for everything else (tracking, logins, errors)."""
        now = time.time()
        key = limit.key(now)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, limit.window_seconds + 1)
            count, _ = await pipe.execute()
        return count <= limit.limit, limit.retry_after(now)


@dataclass(frozen=True)
class LockOut:
    """After `limit` failures within `window_seconds` of the first one, the bucket is locked until
    `window_seconds` after the last counted failure. Only failures count; a locked bucket is
    checked before the expensive or revealing work (a password hash) is done at all."""

    bucket: str
    limit: int
    window_seconds: int

    @property
    def key(self) -> str:
        return keys.rate(f"fail:{self.bucket}")


# One attempt, counted as a failure before the password is checked (and refunded if it was right),
# so that concurrent guesses cannot all pass the check before any of them is counted. KEYS: the
# counters; ARGV: limit and window of each. Returns 0 (go ahead) or the seconds to wait.
_ATTEMPT = """
local wait = 0
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then ttl = tonumber(ARGV[2 * i]) end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  -- the window starts at the first failure and restarts on the one that locks
  if n == 1 or n >= tonumber(ARGV[2 * i - 1]) then redis.call('EXPIRE', key, ARGV[2 * i]) end
end
return 0
"""

_REFUND = """
for _, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n > 0 then redis.call('DECR', key) end
end
return 0
"""


class LockOuts:
    """Failure counters for logins (and anything else that must slow down guessing)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._attempt = redis.register_script(_ATTEMPT)
        self._refund = redis.register_script(_REFUND)

    async def attempt(self, *lockouts: LockOut) -> int:
        """Seconds until the longest lock among `lockouts` ends, or 0: then this attempt is
        counted as a failure until `succeeded` takes it back (one atomic step, so a burst of
        concurrent guesses gets no more tries than the limit)."""
        args: list[int] = []
        for lockout in lockouts:
            args += [lockout.limit, lockout.window_seconds]
        return int(await self._attempt(keys=[lockout.key for lockout in lockouts], args=args))

    async def succeeded(self, *lockouts: LockOut) -> None:
        """Only failures count: take back the attempt counted by `attempt`."""
        await self._refund(keys=[lockout.key for lockout in lockouts])


def login_lockouts(settings: Settings, username: str, address: str) -> tuple[LockOut, LockOut]:
    """Desk logins: per user name from any address (guessing one account from many addresses), and
    per address across user names (one password sprayed over many accounts)."""
    window = settings.login_lockout_seconds
    return (LockOut(f"login-user:{username.lower()}", settings.login_failures_per_user, window),
            LockOut(f"login-ip:{address}", settings.login_failures_per_address, window))
