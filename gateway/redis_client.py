"""Where Redis is, and the one way the product opens a client on it: one URL (REDIS_URL), the
sentinels that name the primary (REDIS_SENTINELS), or the embedded server under the data
directory. Every process (web, delivery worker, CLI commands) opens its clients here.

Behind Sentinel a client asks the sentinels for the primary whenever it opens a connection, so
after a failover it finds the new primary by itself; until the sentinels have promoted one,
commands fail with redis-py's ConnectionError (MasterNotFoundError), which the recovery logic of
`gateway/redis_faults.py` already treats as an outage.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel

from gateway.embedded_redis import EmbeddedRedis
from gateway.settings import Settings

# A sentinel or a primary that is gone (host down, not just refusing) must not hold a request for
# the operating system's connect timeout of minutes.
CONNECT_TIMEOUT_SECONDS = 2.0
SENTINEL_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class RedisAddress:
    """One Redis by URL, or a primary found through sentinels."""

    url: str | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = "hotline"
    password: str | None = None  # of the primary and replicas behind sentinels (a URL carries its own)

    def client(self, **options: Any) -> Redis:
        """A client with its own connection pool; `options` are redis-py's (max_connections...)."""
        if self.sentinels:
            sentinel = Sentinel(
                list(self.sentinels),
                sentinel_kwargs={"socket_timeout": SENTINEL_TIMEOUT_SECONDS, "socket_connect_timeout": SENTINEL_TIMEOUT_SECONDS},
            )
            options.setdefault("socket_connect_timeout", CONNECT_TIMEOUT_SECONDS)
            return sentinel.master_for(self.master, redis_class=Redis, password=self.password, **options)
        if self.url is None:
            raise ValueError("a RedisAddress needs a URL or sentinels")
        return Redis.from_url(self.url, **options)

    def child_env(self) -> dict[str, str]:
        """What a child process (the supervised delivery worker) needs to open the same Redis."""
        if self.sentinels:
            return {"REDIS_SENTINELS": ",".join(f"{host}:{port}" for host, port in self.sentinels),
                    "REDIS_SENTINEL_MASTER": self.master}
        assert self.url is not None
        return {"REDIS_URL": self.url}

    def __str__(self) -> str:
        if self.sentinels:
            return f"sentinel {self.master} via " + ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return str(self.url)


def configured_address(settings: Settings) -> RedisAddress | None:
    """The Redis the settings name (sentinels or URL); None: the embedded one."""
    if settings.sentinel_addresses:
        return RedisAddress(sentinels=settings.sentinel_addresses, master=settings.redis_sentinel_master,
                            password=settings.redis_password)
    if settings.redis_url:
        return RedisAddress(url=settings.redis_url)
    return None


@contextlib.contextmanager
def redis_address(settings: Settings, supervise: bool = False) -> Iterator[RedisAddress]:
    """The configured Redis; without one, the embedded Redis under the data directory (started
    if needed, stopped again on exit if this process started it). `supervise`: restart the
    embedded one if it dies (`hotline run`, the process that owns it)."""
    configured = configured_address(settings)
    if configured is not None:
        yield configured
        return
    embedded = EmbeddedRedis(settings.data_dir).start()
    if supervise:
        embedded.supervise()
    try:
        yield RedisAddress(url=embedded.url)
    finally:
        embedded.stop()

