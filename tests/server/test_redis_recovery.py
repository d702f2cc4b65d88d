"""Redis outages: every background task of the web process survives a Redis restart and resumes
by itself; APIs answer 503 with Retry-After meanwhile; /readyz tells the truth; the phone lease
never has two holders.

Each test runs its own redis-server (AOF on, fsync always, in tmp_path) and kills it with
SIGKILL: the machine's Redis is never touched."""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis as sync_redis
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from channels.phone.state import PHONE
from gateway import keys
from gateway.embedded_redis import redis_server_binary
from gateway.live_events import DeskConnection, LiveHub
from gateway.redis_client import RedisAddress
from gateway.redis_faults import StoreUnavailable
from peers.asterisk import FakeAsterisk
from server.app import create_app
from tests.conftest import settings_for
from tests.support.desk import add_user, login
from tests.support.phone import AGENTS, AMI_SECRET, Desk, open_desk
from tests.support.processes import Gateway
from tests.support.waiting import eventually

FORM = {"description": "小区门口的路灯坏了好几天，晚上很黑", "phone": "13611115555"}


class PrivateRedis:
    """A redis-server of our own on a fixed loopback port, which a test may kill and restart."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            return bool(sync_redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping())
        except sync_redis.RedisError:
            return False

    async def start(self) -> None:
        self.process = subprocess.Popen([
            redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
            "--logfile", str(self.dir / "redis.log"),
        ], stdin=subprocess.DEVNULL)

        async def up() -> bool:
            assert self.process is not None and self.process.poll() is None, (self.dir / "redis.log").read_text()[-2000:]
            return await asyncio.to_thread(self._answers)
        await eventually(up, bool, timeout=20)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    await server.start()
    yield server
    server.stop()


@pytest.fixture
async def start_app(tmp_path: Path) -> AsyncIterator[Any]:
    """In-process apps (workers inline) on real sockets; returns (base URL, app)."""
    servers: list[TestServer] = []

    async def start(redis_url: str, name: str = "a", **overrides: Any) -> tuple[str, web.Application]:
        settings = settings_for(tmp_path / name, redis_url, instance_id=f"test-{name}", video=False, **overrides)
        app = create_app(settings, RedisAddress(url=redis_url))
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/"), app

    yield start
    for server in servers:
        await server.close()


async def readyz(base: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as r:
        return r.status, await r.json()


async def wait_ready(base: str, ready: bool, timeout: float = 30.0) -> dict[str, Any]:
    status, body = await eventually(lambda: readyz(base), lambda r: (r[0] == 200) == ready, timeout=timeout)
    return body


_citizens = itertools.count(1)


async def submit(base: str) -> str:
    """FORM from a new citizen each time: the same person's same words would be held as 疑似重复."""
    form = {**FORM, "phone": f"136111{next(_citizens):05d}"}
    async with aiohttp.ClientSession() as http, http.post(f"{base}/api/v1/requests", json=form) as r:
        assert r.status == 201, await r.text()
        return (await r.json())["ticket_id"]


async def created_event(desk: Desk, ticket_id: str) -> dict[str, Any]:
    async def probe() -> list[dict[str, Any]]:
        return [e for e in desk.of("ticket.created") if e.get("ticket", {}).get("id") == ticket_id]
    return (await eventually(probe, bool, timeout=20))[0]


async def test_open_desk_socket_keeps_receiving_across_a_redis_restart(private_redis: PrivateRedis, start_app: Any) -> None:
    base, app = await start_app(private_redis.url)
    desk = await open_desk(base, private_redis.url, "agent1", "agent")
    try:
        await wait_ready(base, True)

        private_redis.kill()
        body = await wait_ready(base, False)
        assert body["checks"]["redis"].startswith("unreachable")

        await private_redis.start()
        body = await wait_ready(base, True)  # which includes: the hub is subscribed again
        assert not desk.ws.closed

        ticket_id = await submit(base)
        await created_event(desk, ticket_id)  # the socket opened before the outage still gets events
        assert desk.of("resync"), "the desk is told to reload what it may have missed"
        assert body["checks"]["live_hub"] == {"state": "subscribed", "desks": 1, "ok": True}

        second = await open_desk(base, private_redis.url, "agent2", "agent")  # and new desks connect
        try:
            other = await submit(base)
            await created_event(second, other)
            await created_event(desk, other)
        finally:
            await second.close()
    finally:
        await desk.close()


async def test_apis_answer_503_with_retry_after_during_an_outage(private_redis: PrivateRedis, start_app: Any,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    base, app = await start_app(private_redis.url)
    await add_user(private_redis.url, "agent1", "agent")
    session, csrf = await login(base, "agent1")
    try:
        await wait_ready(base, True)
        private_redis.kill()
        await wait_ready(base, False)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{base}/api/v1/requests", json=FORM) as r:
                    assert r.status == 503
                    assert r.headers["Retry-After"] == "5"
                    body = await r.json()
                    assert body["error"] == "store_unavailable"
                    assert "稍后再试" in body["message"] and "不会丢失" in body["message"]
                # The portal's form without JavaScript gets a page, not JSON.
                async with http.post(f"{base}/api/v1/requests", data=FORM, headers={"Accept": "text/html"}) as r:
                    assert r.status == 503 and r.headers["Retry-After"] == "5"
                    assert r.content_type == "text/html" and "系统暂时不可用" in await r.text()
            # A desk (its session lives in Redis) gets the same answer, not a 500.
            async with session.get(f"{base}/api/v1/agent/tickets") as r:
                assert r.status == 503 and (await r.json())["error"] == "store_unavailable"
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{base}/api/v1/agent/ws", headers={"X-CSRF-Token": csrf})
            assert refused.value.status == 503
        outage_logs = [rec for rec in caplog.records if rec.getMessage() == "store unavailable"]
        assert len(outage_logs) == 4, [rec.getMessage() for rec in caplog.records]
        assert not any(rec.exc_info for rec in caplog.records), "an outage is logged without tracebacks"

        await private_redis.start()
        await wait_ready(base, True)
        await submit(base)
        async with session.get(f"{base}/api/v1/agent/tickets") as r:
            assert r.status == 200
    finally:
        await session.close()


async def test_a_desk_waiting_for_the_live_hub_is_refused_when_redis_is_down() -> None:
    """LiveHub.add answers StoreUnavailable (a 503) as soon as a subscription attempt fails,
    rather than a TimeoutError (a 500) after ten seconds."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]  # nothing listens here
    redis = Redis.from_url(f"redis://127.0.0.1:{dead_port}/0")
    hub = LiveHub(redis)
    stop = asyncio.Event()
    runner = asyncio.create_task(hub.run(stop))
    try:
        with pytest.raises(StoreUnavailable):
            await hub.add(DeskConnection(ws=None, username="agent1", roles=frozenset({"agent"})))  # type: ignore[arg-type]
        assert hub.connections == set()
        health = hub.health()
        assert health["state"] != "dead" and health["ok"]  # no desk waiting: nothing to serve
    finally:
        stop.set()
        await runner
        await redis.aclose()


async def test_delivery_resumes_after_an_outage(private_redis: PrivateRedis, start_app: Any) -> None:
    """The router and outbox readers (inline workers) survive the outage: a ticket filed after
    Redis is back reaches the case system (here the local inbox)."""
    base, app = await start_app(private_redis.url)
    redis = Redis.from_url(private_redis.url)
    try:
        before = await submit(base)

        async def inbox() -> str:
            return json.dumps([v.decode() for v in await redis.hvals(keys.LOCAL_INBOX)])
        await eventually(inbox, lambda text: before in text)

        private_redis.kill()  # the router's and the outbox's blocked XREADGROUPs lose their connection
        await wait_ready(base, False)
        await private_redis.start()
        await wait_ready(base, True)

        after = await submit(base)
        await eventually(inbox, lambda text: after in text, timeout=30)
        assert (await readyz(base))[1]["checks"].get("delivery_worker") == "inline: running"
    finally:
        await redis.aclose()


@pytest.mark.slow
async def test_phone_lease_never_has_two_leaders_across_a_redis_restart(private_redis: PrivateRedis, start_app: Any) -> None:
    asterisk = FakeAsterisk(username="hotline", secret=AMI_SECRET, login_failure_delay=0.05)
    await asterisk.start()
    phone = dict(phone=True, ami_port=asterisk.port, ami_secret=AMI_SECRET, audiosocket_listen="127.0.0.1:0",
                 phone_agents=AGENTS, ami_reconnect_max_seconds=1.0, ticket_prefix="PH")
    watching = True
    watcher: asyncio.Task[None] | None = None
    most_leaders = most_ami_sessions = 0
    try:
        base_a, app_a = await start_app(private_redis.url, "a", **phone)
        base_b, app_b = await start_app(private_redis.url, "b", **phone)
        channels = [app_a[PHONE], app_b[PHONE]]

        async def watch() -> None:
            nonlocal most_leaders, most_ami_sessions
            while watching:  # samples the invariant all along; never used to wait for anything
                most_leaders = max(most_leaders, sum(c.leading.is_set() for c in channels))
                most_ami_sessions = max(most_ami_sessions, asterisk.logged_in_clients)
                await asyncio.sleep(0.005)
        watcher = asyncio.create_task(watch())

        async def leaders() -> list[str]:
            return [c.settings.instance_id for c in channels if c.leading.is_set()]

        first = await eventually(leaders, lambda ids: len(ids) == 1, timeout=30)
        await asterisk.wait_for_clients(timeout=20)
        leader = channels[0] if first == ["test-a"] else channels[1]

        private_redis.kill()
        # The leader cannot renew: it steps down (drops AMI) before its lease could run out.
        await eventually(leaders, lambda ids: ids == [], timeout=30)
        assert leader.lease()["state"] == "lost"
        await asterisk.wait_until(lambda: asterisk.logged_in_clients == 0, timeout=20)

        await private_redis.start()
        now = await eventually(leaders, lambda ids: len(ids) == 1, timeout=40)
        await asterisk.wait_for_clients(timeout=20)
        holder = await eventually(lambda: channels[0].lease_holder(), lambda h: h is not None)
        assert [holder] == now
        states = sorted(c.lease()["state"] for c in channels)
        assert states == ["leader", "standby"]
        for base in (base_a, base_b):
            body = await wait_ready(base, True)
            assert body["checks"]["phone_lease"]["holder"] == holder
    finally:
        watching = False
        await asterisk.stop()
    assert watcher is not None
    await watcher
    assert most_leaders == 1, "two phone leaders at once"
    assert most_ami_sessions == 1, "two AMI sessions at once"


@pytest.mark.slow
async def test_delivery_worker_process_rides_out_an_outage_without_restarting(private_redis: PrivateRedis, tmp_path: Path) -> None:
    """`hotline run` (delivery worker in its own process): the worker keeps running through the
    outage instead of crash-looping, nothing logs a traceback, and delivery resumes."""
    gateway = Gateway(private_redis.url, tmp_path / "gw")
    await asyncio.to_thread(gateway.start)
    redis = Redis.from_url(private_redis.url)
    try:
        async def inbox() -> str:
            return json.dumps([v.decode() for v in await redis.hvals(keys.LOCAL_INBOX)])
        await wait_ready(gateway.base, True)
        before = await submit(gateway.base)
        await eventually(inbox, lambda text: before in text)

        private_redis.kill()
        body = await wait_ready(gateway.base, False)
        assert body["checks"]["redis"].startswith("unreachable")
        await private_redis.start()
        body = await wait_ready(gateway.base, True)

        after = await submit(gateway.base)
        await eventually(inbox, lambda text: after in text, timeout=30)
        body = (await readyz(gateway.base))[1]
        assert body["checks"]["delivery_worker"] == "running"
        assert body["checks"]["delivery_worker_restarts"] == 0, gateway.log()[-3000:]
        assert "Traceback" not in gateway.log(), gateway.log()[-3000:]
    finally:
        await redis.aclose()
        await asyncio.to_thread(gateway.stop)
