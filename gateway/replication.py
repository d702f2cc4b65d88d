"""A person is told "received" only after the write reached HOTLINE_REDIS_MIN_REPLICAS replicas.

The acknowledgement is the HTTP answer to a write (a form, a chat turn, a WeChat push, a partner
transfer, a desk edit), so the check sits in one middleware, not in each handler: a successful
POST/PUT/PATCH/DELETE is answered only after Redis's WAIT says enough replicas have it.

WAIT counts the replicas that acknowledged the writes made on the connection it is sent on, and
a request's writes may have gone over any pooled connection (and through group commit). So the
barrier first writes a marker on its own connection and then WAITs there: Redis replicates one
stream in order, so once the marker has reached n replicas, so has every write that completed
before it. Requests that reach the barrier in the same event-loop turn share one marker + WAIT.

If the replicas do not confirm in time the answer is 503 `replication_timeout`. The write itself
is kept (it is on the primary): a retry with the same idempotency key finds the ticket, and is
answered only once the barrier holds for it too.

WAIT speaks only for the primary it runs on. A request that wrote to the old primary and reached
the barrier only after a failover (a stalled process) would be confirmed by the new primary's
replicas, which never had its write. So each round also reads the primary's replication id,
which a promotion changes, and a request is confirmed only by a round on the primary that was
current when it began; otherwise it is refused like a timeout, and its retry finds or makes the
ticket on the new primary.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway import keys
from gateway.errors import ApiError
from gateway.redis_client import RedisAddress

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRY_AFTER_SECONDS = 5


def replication_timeout() -> ApiError:
    return ApiError(503, "replication_timeout",
                    "系统正在确认数据备份，本次提交暂未确认成功。请稍后重新提交，重复提交不会重复受理；如情况紧急，请直接拨打12345热线。",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"})


class ReplicationBarrier:
    """`await barrier(primary)`: how many replicas (at most `replicas`) have every write that
    completed before the call, on the primary whose replication id `primary` was when the
    request began (`barrier.primary`; 0 if the primary changed since); waits up to
    `timeout_seconds` for them.

    Rounds run one after another: callers that arrive while a round is in flight wait for the
    next one, whose marker is written after their writes. The barrier has its own client without
    retries: a round retried after the primary died could land on a promoted replica and count
    the writes it lost as confirmed; failing instead answers 503, and the retry finds the ticket
    or makes it anew."""

    def __init__(self, address: RedisAddress, replicas: int, timeout_seconds: float) -> None:
        self.redis = address.client(max_connections=2, retry=Retry(NoBackoff(), 0))
        self.replicas = replicas
        self.timeout_ms = max(1, int(timeout_seconds * 1000))  # WAIT 0 would wait forever
        # The replication id of the primary the last round ran on (None: no round yet).
        self.primary: str | None = None
        self._waiting: list[asyncio.Future[tuple[int, str]]] = []
        self._round: asyncio.Task[None] | None = None

    async def prime(self) -> None:
        """One round at start, so that the first requests know their primary (a failure leaves
        it unknown: those requests are refused, and their retries find a known one)."""
        try:
            await self(None)
        except Exception as exc:  # Redis unreachable at start: /readyz says so
            log.warning("replication barrier: no primary known yet", extra={"error": f"{type(exc).__name__}: {exc}"})

    async def __call__(self, primary: str | None) -> int:
        future: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        if self._round is None:
            self._round = asyncio.ensure_future(self._rounds())
        confirmed, ran_on = await future
        return confirmed if ran_on == primary else 0

    async def _rounds(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._run(batch)
        finally:
            self._round = None

    async def _run(self, batch: list[asyncio.Future[tuple[int, str]]]) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:  # one connection for all three
                pipe.incr(keys.REPLICATION_MARK)
                pipe.execute_command("WAIT", self.replicas, self.timeout_ms)
                pipe.info("replication")
                _, confirmed, info = await pipe.execute()
        except Exception as exc:  # Redis unreachable: every waiting request gets the error
            for future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        ran_on = str(info["master_replid"])
        if self.primary is not None and ran_on != self.primary:
            log.warning("replication barrier: the primary changed (failover); requests begun before are refused")
        self.primary = ran_on
        for future in batch:
            if not future.done():
                future.set_result((int(confirmed), ran_on))

    async def aclose(self) -> None:
        await self.redis.aclose()


def replicated_writes(barrier: ReplicationBarrier) -> Any:
    """The middleware: a successful write is answered only once the barrier holds."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        primary = barrier.primary  # before the handler writes anything
        response = await handler(request)
        if request.method in WRITE_METHODS and response.status < 400 and not response.prepared:
            if await barrier(primary) < barrier.replicas:
                raise replication_timeout()
        return response

    return middleware
