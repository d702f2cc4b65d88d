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


# INCR, starting the window on the first failure and restarting it on the one that locks.
_FAIL = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or n >= tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return n
"""


class LockOuts:
    """Failure counters for logins (and anything else that must slow down guessing)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._fail = redis.register_script(_FAIL)

    async def locked(self, *lockouts: LockOut) -> int:
        """Seconds until the longest lock among `lockouts` ends; 0 when none is locked."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for lockout in lockouts:
                pipe.get(lockout.key)
                pipe.ttl(lockout.key)
            answers = await pipe.execute()
        wait = 0
        for lockout, count, ttl in zip(lockouts, answers[0::2], answers[1::2]):
            if count is not None and int(count) >= lockout.limit:
                wait = max(wait, int(ttl) if int(ttl) > 0 else lockout.window_seconds)
        return wait

    async def fail(self, *lockouts: LockOut) -> None:
        for lockout in lockouts:
            await self._fail(keys=[lockout.key], args=[lockout.limit, lockout.window_seconds])

    async def clear(self, *lockouts: LockOut) -> None:
        await self.redis.delete(*(lockout.key for lockout in lockouts))


def login_lockouts(settings: Settings, username: str, address: str) -> tuple[LockOut, LockOut]:
    """Desk logins: per user name from any address (guessing one account from many addresses), and
    per address across user names (one password sprayed over many accounts)."""
    window = settings.login_lockout_seconds
    return (LockOut(f"login-user:{username.lower()}", settings.login_failures_per_user, window),
            LockOut(f"login-ip:{address}", settings.login_failures_per_address, window))
