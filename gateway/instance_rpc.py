"""Asking another gateway instance to do something only it can do, over Redis lists.

The phone leader holds the AMI session (a transfer must run there); the instance that holds a
video session's peer connections must answer an agent's offer. The asker pushes a request on the
other instance's queue and waits for the reply on a key of its own; the server runs each request
and pushes the reply. Requests carry an expiry so one nobody took in time is dropped, not run
minutes later.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, stop_if_cancelled

log = logging.getLogger(__name__)

REPLY_TTL_SECONDS = 60
WAIT_SLICE_SECONDS = 2.0  # each BLPOP stays well below redis-py's socket timeout (5 s)

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
"""Runs one request; its result is the reply. An exception becomes an error reply (see `failure`)."""


class RemoteFailed(Exception):
    """The other instance ran the request and it failed; `error` is what `failure` made of it."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message") or error.get("code") or "failed")
        self.error = error


def reply_key(queue: str, request_id: str) -> str:
    return f"{queue}:reply:{request_id}"


async def call(redis: Redis, queue: str, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send `request` to whoever serves `queue` and wait for its result. Raises TimeoutError when
    nobody answered in `timeout` seconds and RemoteFailed when the request failed there."""
    request_id = secrets.token_hex(8)
    expires = await _redis_now(redis) + timeout  # Redis' clock: instances' clocks may differ
    async with redis.pipeline(transaction=True) as pipe:
        pipe.rpush(queue, json.dumps({"id": request_id, "expires": expires, "request": request}, ensure_ascii=False))
        pipe.expire(queue, max(1, int(timeout) + 1))
        await pipe.execute()
    # Waited for in slices: one BLPOP longer than the client's socket timeout would end in a
    # redis TimeoutError, read as "Redis is down", instead of "no answer".
    deadline = time.monotonic() + timeout
    answer = None
    while answer is None and (left := deadline - time.monotonic()) > 0:
        answer = await redis.blpop([reply_key(queue, request_id)], timeout=max(0.1, min(left, WAIT_SLICE_SECONDS)))
    if answer is None:
        raise TimeoutError(f"no answer on {queue}")
    reply = json.loads(answer[1])
    if not reply.get("ok"):
        raise RemoteFailed(reply.get("error") or {})
    result: dict[str, Any] = reply.get("result") or {}
    return result


async def _redis_now(redis: Redis) -> float:
    seconds, micros = await redis.time()
    return seconds + micros / 1_000_000


def _as_message(exc: Exception) -> dict[str, Any]:
    return {"message": str(exc) or type(exc).__name__}


async def serve(redis: Redis, queue: str, handle: Handler, *, label: str,
                failure: Callable[[Exception], dict[str, Any]] = _as_message,
                ready: asyncio.Event | None = None, concurrent: bool = False,
                wait_slice: float = WAIT_SLICE_SECONDS) -> None:
    """Answer the requests on `queue` until cancelled (while `ready` is set, if given: it is
    looked at again every `wait_slice` seconds). A Redis outage pauses it with one warning; it
    does not end it. `concurrent`: each request runs as a task of its own (one slow request does
    not hold up the next)."""
    outage = OutageLog(log, label)
    running: set[asyncio.Task[None]] = set()  # referenced until done: the loop holds tasks only weakly
    while True:
        stop_if_cancelled()
        if ready is not None:
            await ready.wait()
        try:
            item = await redis.blpop([queue], timeout=wait_slice)
        except REDIS_UNREACHABLE as exc:
            outage.failed(exc)
            await asyncio.sleep(1)
            continue
        outage.ok()
        if item is None:
            continue
        try:
            envelope = json.loads(item[1])
            request_id, expires, request = str(envelope["id"]), float(envelope["expires"]), dict(envelope["request"])
        except (ValueError, KeyError, TypeError):
            log.warning("malformed request dropped", extra={"queue": label})
            continue
        try:
            late = await _redis_now(redis) > expires
        except REDIS_UNREACHABLE as exc:
            outage.failed(exc)
            late = False
        if late:
            log.warning("request dropped: its asker has given up", extra={"queue": label, "action": request.get("action")})
            continue
        answer = _answer(redis, reply_key(queue, request_id), request, handle, failure, outage)
        if concurrent:
            task = asyncio.create_task(answer)
            running.add(task)
            task.add_done_callback(running.discard)
        else:
            await answer


async def _answer(redis: Redis, key: str, request: dict[str, Any], handle: Handler,
                  failure: Callable[[Exception], dict[str, Any]], outage: OutageLog) -> None:
    try:
        reply: dict[str, Any] = {"ok": True, "result": await handle(request)}
    except Exception as exc:  # the asker gets the reason, whatever it was
        reply = {"ok": False, "error": failure(exc)}
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(reply, ensure_ascii=False))
            pipe.expire(key, REPLY_TTL_SECONDS)
            await pipe.execute()
    except REDIS_UNREACHABLE as exc:  # the asker times out and says so
        outage.failed(exc)
