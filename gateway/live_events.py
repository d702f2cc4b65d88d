"""Live pushes to agent desktops: one Redis pub/sub subscription per gateway instance, fanned out
to that instance's WebSockets. Any instance can serve any agent because every instance hears
every event."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, web
from redis.asyncio import Redis

from gateway import keys
from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, StoreUnavailable
from gateway.redis_values import text

log = logging.getLogger(__name__)

DESK_ROLES = {"agent", "supervisor"}
# Events that change what the supervisor wall shows; the hub follows them with one
# `wall.changed` per WALL_DELAY, so a busy minute costs the walls a refetch a second at most.
WALL_EVENTS = ("ticket.", "hotspot.", "call.ringing", "call.connected", "call.ended")
WALL_DELAY = 0.5


def desk_event(event: dict[str, Any], audience: list[str] | None = None) -> str:
    """An event for the agent desks as it goes over pub/sub. `audience`: the user names that get
    it (supervisors get every event); None: every desk."""
    return json.dumps(event if audience is None else {**event, "audience": audience}, ensure_ascii=False)


async def publish_to_desks(redis: Redis, event: dict[str, Any], audience: list[str] | None = None) -> None:
    """Tell the desks on every instance (each instance's LiveHub relays it to its sockets)."""
    await redis.publish(keys.events_channel(redis), desk_event(event, audience))


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
    connect, so nothing published before that is missed.

    A Redis outage does not end it: it resubscribes until Redis answers again, keeps the open
    desk sockets, and then tells them to reload (`{"type": "resync"}`), since an event published
    between Redis' return and the new subscription would otherwise be missed."""

    SUBSCRIBE_WAIT = 10.0  # how long a new desk waits for the subscription
    RETRY_MIN, RETRY_MAX = 0.25, 2.0

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.connections: set[DeskConnection] = set()
        self._listeners = asyncio.Event()
        self._subscribed = asyncio.Event()
        self.running = False  # the run() loop is alive
        self._attempt_failed = asyncio.Event()  # replaced by a fresh one after each failed attempt
        self.outage = OutageLog(log, "live hub")
        self._wall_pending: asyncio.TimerHandle | None = None

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    def health(self) -> dict[str, Any]:
        """For /readyz: `ok` False when the hub is dead, or desks are connected and not served."""
        state = "subscribed" if self.subscribed else ("dead" if not self.running else ("idle" if not self.connections else "subscribing"))
        ok = self.running and (self.subscribed or not self.connections)
        health: dict[str, Any] = {"state": state, "desks": len(self.connections), "ok": ok}
        if self.outage.down:
            health["error"] = self.outage.last_error
        return health

    async def add(self, conn: DeskConnection) -> None:
        """Register a desk; returns once the subscription is live, so a desk that loads its
        list after this cannot miss an event in between. Raises StoreUnavailable (503) when
        the subscription cannot be made (Redis down)."""
        failed = self._attempt_failed  # set by the next failed subscription attempt
        self.connections.add(conn)
        self._listeners.set()
        if not self._subscribed.is_set():
            await _first(self._subscribed.wait(), failed.wait(), timeout=self.SUBSCRIBE_WAIT)
        if not self._subscribed.is_set():
            self.remove(conn)
            raise StoreUnavailable("live event subscription unavailable")

    def remove(self, conn: DeskConnection) -> None:
        self.connections.discard(conn)
        if not self.connections:
            self._listeners.clear()

    async def close_all(self) -> None:
        """On shutdown: close every desk socket as "going away", so the desks reconnect (to
        another instance) at once, and the server does not wait out its shutdown timeout for
        sockets that would never end by themselves."""
        sockets = [conn.ws for conn in self.connections if not conn.ws.closed]
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in sockets),
                             return_exceptions=True)

    async def run(self, stop: asyncio.Event) -> None:
        self.running = True
        try:
            await self._run(stop)
        finally:
            self.running = False
            self._subscribed.clear()

    async def _run(self, stop: asyncio.Event) -> None:
        retry = self.RETRY_MIN
        lost_with_desks = False
        while not stop.is_set():
            await _first(self._listeners.wait(), stop.wait())
            if stop.is_set():
                return
            pubsub = self.redis.pubsub()
            failed = False
            try:
                await pubsub.subscribe(keys.events_channel(self.redis))
                self._subscribed.set()
                self.outage.ok()
                retry = self.RETRY_MIN
                if lost_with_desks:
                    lost_with_desks = False
                    self.broadcast(json.dumps({"type": "resync", "reason": "live events were interrupted"}))
                while not stop.is_set() and self.connections:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self.broadcast(message["data"])
            except REDIS_UNREACHABLE as exc:
                self.outage.failed(exc, desks=len(self.connections))
                failed = True
            except Exception:  # a bug must not end live pushes for good
                log.exception("live hub failed, resubscribing")
                failed = True
            finally:
                self._subscribed.clear()
                try:
                    await pubsub.aclose()
                except Exception:  # closing a dead connection may fail too
                    pass
            if failed:
                self._attempt_failed.set()  # desks waiting in add() are refused now, not after 10 s
                self._attempt_failed = asyncio.Event()
                lost_with_desks = lost_with_desks or bool(self.connections)
                await _first(asyncio.sleep(retry), stop.wait())
                retry = min(retry * 2, self.RETRY_MAX)

    def broadcast(self, raw: bytes | str) -> None:
        message = text(raw)
        try:
            event = json.loads(message)
        except ValueError:
            return
        self._deliver(message, event)
        if str(event.get("type", "")).startswith(WALL_EVENTS) and self._wall_pending is None:
            self._wall_pending = asyncio.get_running_loop().call_later(WALL_DELAY, self._wall_changed)

    def _wall_changed(self) -> None:
        self._wall_pending = None
        event = {"type": "wall.changed", "audience": []}  # supervisors only
        self._deliver(json.dumps(event), event)

    def _deliver(self, message: str, event: dict[str, Any]) -> None:
        for conn in list(self.connections):
            if conn.wants(event):
                try:
                    conn.queue.put_nowait(message)
                except asyncio.QueueFull:
                    # A stuck browser must not hold up the others; it reloads its list on reconnect.
                    asyncio.ensure_future(conn.ws.close(code=1013, message=b"too slow"))


async def _first(*waits: Any, timeout: float | None = None) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
