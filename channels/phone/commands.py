"""Desk actions on a live call from any gateway instance. Only the instance holding the AMI
session (the phone leader) can act on a call, so the others put the command on a Redis list
that the leader takes from, and wait for its answer on a reply list of their own."""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from gateway import keys

log = logging.getLogger(__name__)

COMMANDS = keys.P + "phone:commands"
REPLY_TTL_SECONDS = 60
COMMAND_TTL_SECONDS = 30  # an unanswered command is dropped, not run minutes later on a new leader


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
    answer = await redis.blpop([_reply_key(command_id)], timeout=timeout)
    if answer is None:
        raise TimeoutError("no answer from the instance connected to Asterisk")
    reply = json.loads(answer[1])
    if not reply.get("ok"):
        raise CommandFailed(reply.get("error") or "failed")


Executor = Callable[[dict[str, Any]], Awaitable[None]]


async def serve_commands(redis: Redis, leading: asyncio.Event, execute: Executor) -> None:
    """While this instance leads, run the commands other instances send (until cancelled)."""
    while True:
        await leading.wait()
        try:
            item = await redis.blpop([COMMANDS], timeout=1)
        except (ConnectionError, OSError) as exc:
            log.warning("phone command queue unavailable", extra={"error": str(exc)})
            await asyncio.sleep(1)
            continue
        if item is None:
            continue
        command = json.loads(item[1])
        try:
            await execute(command)
            reply = {"ok": True}
        except Exception as exc:  # the requesting desk gets the reason, whatever it was
            reply = {"ok": False, "error": str(exc) or type(exc).__name__}
        async with redis.pipeline(transaction=True) as pipe:
            pipe.rpush(_reply_key(command["id"]), json.dumps(reply, ensure_ascii=False))
            pipe.expire(_reply_key(command["id"]), REPLY_TTL_SECONDS)
            await pipe.execute()
