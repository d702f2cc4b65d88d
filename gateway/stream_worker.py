"""A consumer-group reader shared by the router and the outbox.

Several gateway instances read one stream through one group, each entry going to one of them.
Entries a crashed instance had taken stay pending; after `claim_idle` seconds any live instance
takes them over with XAUTOCLAIM. Handlers acknowledge entries themselves, in the same Redis step
as their effect, so an entry is never acknowledged without its effect or vice versa.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, describe, pause
from gateway.redis_values import text, text_fields

log = logging.getLogger(__name__)

Fields = dict[str, str]
Handler = Callable[[str, Fields], Awaitable[None]]


def _decode(fields: Any) -> Fields:
    return text_fields(fields)


class StreamWorker:
    RETRY_MIN, RETRY_MAX = 0.25, 2.0  # backoff while Redis is unreachable: resume soon after it returns

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        consumer: str,
        handler: Handler,
        concurrency: int = 8,
        claim_idle_seconds: float = 30.0,
        block_ms: int = 1000,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.handler = handler
        self.concurrency = concurrency
        self.claim_idle_ms = int(claim_idle_seconds * 1000)
        self.block_ms = block_ms
        self.in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.state = "starting"  # running | retrying (Redis unreachable) | stopped
        self.outage = OutageLog(log, f"stream worker {stream}")

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: survives Redis outages (retrying with backoff) and resumes by itself,
        first with this consumer's own pending entries, which a failed read may have left."""
        claimer = asyncio.create_task(self._claim_loop(stop))
        retry = self.RETRY_MIN
        resume = True  # (re)create the group and take back our own pending entries first
        try:
            while not stop.is_set():
                try:
                    if resume:
                        await self.ensure_group()
                        await self._read("0")  # our own pending entries from a previous life with the same name
                        resume = False
                    free = self.concurrency - len(self.in_flight)
                    if free <= 0:
                        await asyncio.sleep(0.01)
                        continue
                    await self._read(">", count=free)
                    self.outage.ok()
                    self.state = "running"
                    retry = self.RETRY_MIN
                except REDIS_UNREACHABLE as exc:
                    self.outage.failed(exc, stream=self.stream)
                    self.state = "retrying"
                    resume = True
                    await pause(stop, retry)
                    retry = min(retry * 2, self.RETRY_MAX)
                except ResponseError as exc:
                    if "NOGROUP" in str(exc):  # the group is gone (Redis came back without its data): make it again
                        log.warning("stream group missing, recreating", extra={"stream": self.stream, "group": self.group})
                    else:
                        log.exception("stream read failed", extra={"stream": self.stream})
                    resume = True
                    await pause(stop, retry)
                    retry = min(retry * 2, self.RETRY_MAX)
        finally:
            self.state = "stopped"
            claimer.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=10)

    async def _read(self, start: str, count: int | None = None) -> None:
        reply = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=count or self.concurrency,
            block=self.block_ms if start == ">" else None,
        )
        streams = cast(list[tuple[Any, list[tuple[Any, Any]]]], reply or [])  # RESP2: [(stream, [(id, fields)])]
        for _stream, entries in streams:
            for entry_id, fields in entries:
                if fields:  # a pending entry deleted meanwhile comes back empty
                    self._spawn(text(entry_id), _decode(fields))

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        interval = max(self.claim_idle_ms / 2000, 0.2)
        outage = OutageLog(log, f"stream claimer {self.stream}")
        while not stop.is_set():
            await asyncio.sleep(interval)
            try:
                start = "0-0"
                while True:
                    reply = await self.redis.xautoclaim(
                        self.stream, self.group, self.consumer, self.claim_idle_ms, start_id=start, count=50
                    )
                    start, claimed = reply[0], reply[1]
                    for entry_id, fields in claimed:
                        entry_id = text(entry_id)
                        if fields and entry_id not in self.in_flight:
                            log.info("reclaimed stream entry", extra={"stream": self.stream, "entry": entry_id})
                            self._spawn(entry_id, _decode(fields))
                    if start in (b"0-0", "0-0"):
                        break
                outage.ok()
            except REDIS_UNREACHABLE as exc:
                outage.failed(exc)
            except Exception:  # keep claiming on the next round
                log.exception("xautoclaim failed", extra={"stream": self.stream})

    def _spawn(self, entry_id: str, fields: Fields) -> None:
        if entry_id in self.in_flight:
            return
        self.in_flight.add(entry_id)
        task = asyncio.create_task(self._handle(entry_id, fields))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, entry_id: str, fields: Fields) -> None:
        try:
            await self.handler(entry_id, fields)
        except REDIS_UNREACHABLE as exc:
            # Left pending, like any failure; Redis being away is not a bug: no traceback.
            log.warning("stream handler could not reach Redis; entry left pending",
                        extra={"stream": self.stream, "entry": entry_id, "error": describe(exc)})
        except Exception:
            # Left pending: XAUTOCLAIM hands it out again after the idle time.
            log.exception("stream handler failed", extra={"stream": self.stream, "entry": entry_id})
        finally:
            self.in_flight.discard(entry_id)
