"""Desk actions on a live call from any gateway instance. Only the instance holding the AMI
session (the phone leader) can act on a call, so the others send the command to the leader's
queue (gateway/instance_rpc.py) and wait for its answer."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from channels.phone import keys as phone_keys
from gateway import instance_rpc


class CommandFailed(Exception):
    pass


async def send_command(redis: Redis, command: dict[str, Any], timeout: float) -> None:
    """Have the phone leader run `command`; raises CommandFailed with its error, or
    TimeoutError when no leader answered in time."""
    try:
        await instance_rpc.call(redis, phone_keys.COMMANDS, command, timeout)
    except instance_rpc.RemoteFailed as exc:
        raise CommandFailed(str(exc)) from None


Executor = Callable[[dict[str, Any]], Awaitable[None]]


async def serve_commands(redis: Redis, leading: asyncio.Event, execute: Executor) -> None:
    """While this instance leads, run the commands other instances send (until cancelled)."""
    async def handle(command: dict[str, Any]) -> dict[str, Any]:
        await execute(command)
        return {}

    # A 1 s wait: an instance that steps down stops taking commands within a second.
    await instance_rpc.serve(redis, phone_keys.COMMANDS, handle, label="phone command queue", ready=leading, wait_slice=1.0)
