"""Live pushes to agent desktops: one Redis pub/sub subscription per gateway instance, fanned out
to that instance's WebSockets. Any instance can serve any agent because every instance hears
every event."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field

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
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.connections: set[DeskConnection] = set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(keys.EVENTS_CHANNEL)
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self.broadcast(message["data"])
            except (ConnectionError, OSError) as exc:
                log.warning("pub/sub connection lost, resubscribing", extra={"error": str(exc)})
                await asyncio.sleep(1)
            finally:
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
