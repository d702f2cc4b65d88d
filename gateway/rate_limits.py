"""Fixed-window rate limits in Redis, shared by all gateway instances."""
from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from gateway import keys


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
