"""Fixed-window rate limits in Redis, shared by all gateway instances."""
from __future__ import annotations

import time

from redis.asyncio import Redis

from gateway import keys


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def hit(self, bucket: str, limit: int, window_seconds: int) -> tuple[bool, int]:
        """Count one hit; returns (allowed, seconds until the window resets)."""
        window = int(time.time()) // window_seconds
        key = keys.rate(f"{bucket}:{window}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_seconds + 1)
            count, _ = await pipe.execute()
        retry_after = window_seconds - int(time.time()) % window_seconds
        return count <= limit, retry_after
