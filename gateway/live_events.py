"""Live pushes to agent desktops: one Redis pub/sub subscription per gateway instance, fanned out
to that instance's WebSockets. Any instance can serve any agent because every instance hears
every event."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from gateway import keys

log = logging.getLogger(__name__)

DESK_ROLES = {"agent", "supervisor"}


@dataclass(eq=False)
class DeskConnection:
    ws: web.WebSocketResponse
    username: str
    roles: frozenset[str]
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))

    def wants(self, event: dict) -> bool:
        # Ticket events go to every desk user for now; targeted pops (phone) add their own filter.
        audience = event.get("audience")
        if audience is None:
            return bool(self.roles & DESK_ROLES)
        return self.username in audience or "supervisor" in self.roles


class LiveHub:
    """Subscribes only while this instance has desks connected: an instance serving citizens
    alone does not spend CPU parsing every event of the city. Desks reload their list on
    connect, so nothing published before that is missed."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.connections: set[DeskConnection] = set()
        self._listeners = asyncio.Event()
        self._subscribed = asyncio.Event()

    async def add(self, conn: DeskConnection) -> None:
        """Register a desk; returns once the subscription is live, so a desk that loads its
        list after this cannot miss an event in between."""
        self.connections.add(conn)
        self._listeners.set()
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    def remove(self, conn: DeskConnection) -> None:
        self.connections.discard(conn)
        if not self.connections:
            self._listeners.clear()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _first(self._listeners.wait(), stop.wait())
            if stop.is_set():
                return
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(keys.EVENTS_CHANNEL)
                self._subscribed.set()
                while not stop.is_set() and self.connections:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self.broadcast(message["data"])
            except (ConnectionError, OSError) as exc:
                log.warning("pub/sub connection lost, resubscribing", extra={"error": str(exc)})
                await asyncio.sleep(1)
            finally:
                self._subscribed.clear()
                await pubsub.aclose()

    def broadcast(self, raw: bytes | str) -> None:
        text = raw.decode() if isinstance(raw, bytes) else raw
        try:
            event = json.loads(text)
        except ValueError:
            return
        for conn in list(self.connections):
            if conn.wants(event):
                try:
                    conn.queue.put_nowait(text)
                except asyncio.QueueFull:
                    # A stuck browser must not hold up the others; it reloads its list on reconnect.
                    asyncio.ensure_future(conn.ws.close(code=1013, message=b"too slow"))


async def _first(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
