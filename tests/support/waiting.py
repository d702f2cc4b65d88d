"""Wait for a condition instead of sleeping a fixed time."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 30.0, interval: float = 0.05) -> T:
    """Poll `probe` until `done(result)`; on timeout fail with the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {result!r}"[:2000])
        await asyncio.sleep(interval)
