"""Phone-channel test rig: the real gateway app on loopback, logged in to a byte-faithful
Asterisk AMI peer, desks listening on their real WebSockets, and the real clip at 8 kHz."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from gateway import keys
from gateway.ticket import Ticket
from gateway.tickets import Tickets
from peers.asterisk import FakeAsterisk
from speech.audio import read_wav, resample
from tests.support.desk import add_user, login
from tests.support.waiting import eventually

AMI_SECRET = "test-ami-secret"
CLIP = Path(__file__).resolve().parents[2].parent / "shared" / "audio" / "BAC009S0764W0121.wav"
CLIP_TEXT = "甚至出现交易几乎停滞的情况"
AGENTS = "PJSIP/1001=agent1,PJSIP/1002=agent2,2001=agent3,2002=agent4"


def clip_8k() -> bytes:
    clip = read_wav(CLIP)
    return resample(clip.samples, clip.rate, 8000)


@dataclass
class Desk:
    """One logged-in desk user with its live WebSocket; every pushed event is kept."""

    username: str
    session: aiohttp.ClientSession
    csrf: str
    ws: aiohttp.ClientWebSocketResponse
    events: list[dict[str, Any]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.events.append(json.loads(msg.data))

    def of(self, kind: str, linkedid: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind and (linkedid is None or e.get("linkedid") == linkedid
                                                                     or e.get("call", {}).get("linkedid") == linkedid)]

    async def wait(self, kind: str, linkedid: str | None = None, timeout: float = 20.0) -> dict[str, Any]:
        async def probe() -> list[dict[str, Any]]:
            return self.of(kind, linkedid)
        return (await eventually(probe, bool, timeout=timeout))[0]

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            await self.reader
        await self.session.close()


async def open_desk(base: str, redis_url: str, username: str, *roles: str) -> Desk:
    await add_user(redis_url, username, *roles)
    session, csrf = await login(base, username)
    ws = await session.ws_connect(f"{base}/api/v1/agent/ws", headers={"X-CSRF-Token": csrf})
    desk = Desk(username, session, csrf, ws)
    desk.reader = asyncio.create_task(desk.read())
    await desk.wait("hello")
    return desk


@dataclass
class PhoneRig:
    base: str
    asterisk: FakeAsterisk
    redis: Redis
    redis_url: str

    async def ringing_call(self, caller_num: str = "13812345678") -> Any:
        """A caller in the queue and agent1's phone (PJSIP/1001) ringing."""
        call = await self.asterisk.inbound_call(caller_num=caller_num)
        await self.asterisk.ring_agent(call, agent_endpoint="1001", interface="PJSIP/1001")
        return call

    async def ticket_of(self, linkedid: str, timeout: float = 20.0) -> Ticket:
        """The ticket filed for a call (looked up by the call's idempotency key)."""
        async def probe() -> bytes | None:
            return await self.redis.get(keys.idempotency("phone", linkedid))
        ticket_id = await eventually(probe, lambda v: v is not None, timeout=timeout)
        return await Tickets(self.redis).get(ticket_id.decode())

    async def ticket_until(self, linkedid: str, done: Any, timeout: float = 30.0) -> Ticket:
        async def probe() -> Ticket:
            return await self.ticket_of(linkedid)
        return await eventually(probe, done, timeout=timeout)

    async def readyz(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.base}/readyz") as resp:
            return await resp.json()


StartPhone = Callable[..., Awaitable[PhoneRig]]
