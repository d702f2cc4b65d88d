"""What "Redis is unreachable" means, in one place.

redis-py raises its own `redis.exceptions.ConnectionError` (and `TimeoutError`,
`BusyLoadingError` while a restarted Redis loads its append-only file), which are unrelated to
Python's built-in `ConnectionError`: catching the built-in one lets a Redis outage through.
Every background loop and the HTTP error middleware use `REDIS_UNREACHABLE` instead, and an
`OutageLog` so that an outage gives one warning and one recovery line, not a traceback per retry.
"""
from __future__ import annotations

import asyncio
import logging
import time

import redis.exceptions


class StoreUnavailable(redis.exceptions.ConnectionError):
    """Raised by the gateway itself when it gave up waiting for Redis (e.g. the live hub could
    not subscribe in time). A subclass of redis-py's ConnectionError, so it is one of
    `REDIS_UNREACHABLE` and the API answers it with 503 like any other outage."""


# What the HTTP layer answers with 503: errors only Redis raises. A bare OSError in a handler can
# be anything (a partner's socket, a blob file) and stays a 500 there.
REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,  # Redis is back but still loading its data
)
# What background loops that talk only to Redis retry on.
REDIS_UNREACHABLE: tuple[type[BaseException], ...] = (
    *REDIS_ERRORS,
    OSError,  # a socket error redis-py did not wrap (the built-in ConnectionError is an OSError)
)


def stop_if_cancelled() -> None:
    """Raise CancelledError when the current task was asked to stop.

    A cancellation that reaches redis-py in the middle of a command can be lost there: it turns
    into a TimeoutError or ConnectionError, which redis-py retries on a fresh connection or a
    loop's `except REDIS_UNREACHABLE` takes for an outage. A loop that runs until cancelled then
    never ends, and neither does the shutdown waiting for it. So such loops call this every round
    instead of trusting the CancelledError to reach them (Task.cancelling() stays set)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds` between retries, or less when `stop` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


class OutageLog:
    """Logs the start of an outage once (warning) and its end once (info) for one loop."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.since: float | None = None
        self.last_error = ""

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, **extra: object) -> None:
        stop_if_cancelled()  # the "outage" may be a cancellation redis-py swallowed
        self.last_error = describe(exc)
        if self.since is None:
            self.since = time.monotonic()
            self.logger.warning(f"{self.what}: Redis unreachable, retrying", extra={"error": self.last_error, **extra})

    def ok(self, **extra: object) -> None:
        if self.since is not None:
            seconds = round(time.monotonic() - self.since, 1)
            self.since = None
            self.logger.info(f"{self.what}: Redis reachable again", extra={"outage_s": seconds, **extra})
