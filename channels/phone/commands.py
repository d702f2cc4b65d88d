"""Desk actions on a live call from any gateway instance. Only the instance holding the AMI
session (the phone leader) can act on a call, so the others put the command on a Redis list
that the leader takes from, and wait for its answer on a reply list of their own."""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from gateway import keys
from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, stop_if_cancelled

log = logging.getLogger(__name__)

COMMANDS = keys.P + "phone:commands"
REPLY_TTL_SECONDS = 60
COMMAND_TTL_SECONDS = 30  # an unanswered command is dropped, not run minutes later on a new leader
BLPOP_SLICE_SECONDS = 2.0  # well below redis-py's default socket timeout (5 s)


class CommandFailed(Exception):
    pass


def _reply_key(command_id: str) -> str:
    return f"{keys.P}phone:reply:{command_id}"


async def send_command(redis: Redis, command: dict[str, Any], timeout: float) -> None:
    """Have the phone leader run `command`; raises CommandFailed with its error, or
    TimeoutError when no leader answered in time."""
    command_id = uuid.uuid4().hex
    async with redis.pipeline(transaction=True) as pipe:
        pipe.rpush(COMMANDS, json.dumps({**command, "id": command_id}, ensure_ascii=False))
        pipe.expire(COMMANDS, COMMAND_TTL_SECONDS)
        await pipe.execute()
    # Waited for in slices: one BLPOP longer than the client's socket timeout (redis-py: 5 s)
    # would end in a redis TimeoutError, read as "Redis is down", instead of "no answer".
    deadline = time.monotonic() + timeout
    answer = None
    while answer is None and (left := deadline - time.monotonic()) > 0:
        answer = await redis.blpop([_reply_key(command_id)], timeout=max(0.1, min(left, BLPOP_SLICE_SECONDS)))
    if answer is None:
        raise TimeoutError("no answer from the instance connected to Asterisk")
    reply = json.loads(answer[1])
    if not reply.get("ok"):
        raise CommandFailed(reply.get("error") or "failed")


Executor = Callable[[dict[str, Any]], Awaitable[None]]


async def serve_commands(redis: Redis, leading: asyncio.Event, execute: Executor) -> None:
    """While this instance leads, run the commands other instances send (until cancelled).
    A Redis outage pauses it (one warning), it does not end it."""
    outage = OutageLog(log, "phone command queue")
    while True:
        stop_if_cancelled()
        await leading.wait()
        try:
            item = await redis.blpop([COMMANDS], timeout=1)
        except REDIS_UNREACHABLE as exc:
            outage.failed(exc)
            await asyncio.sleep(1)
            continue
        outage.ok()
        if item is None:
            continue
        try:
            command = json.loads(item[1])
            command_id = str(command["id"])
        except (ValueError, KeyError, TypeError):
            log.warning("malformed phone command dropped")
            continue
        try:
            await execute(command)
            reply: dict[str, object] = {"ok": True}
        except Exception as exc:  # the requesting desk gets the reason, whatever it was
            reply = {"ok": False, "error": str(exc) or type(exc).__name__}
        try:
            async with redis.pipeline(transaction=True) as pipe:
                pipe.rpush(_reply_key(command_id), json.dumps(reply, ensure_ascii=False))
                pipe.expire(_reply_key(command_id), REPLY_TTL_SECONDS)
                await pipe.execute()
        except REDIS_UNREACHABLE as exc:  # the sender times out and tells its desk
            outage.failed(exc)
