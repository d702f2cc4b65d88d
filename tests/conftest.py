"""Shared fixtures: a real Redis (the machine's, or an embedded one), in-process apps on real
sockets, gateway processes, the case receiver, and desk users."""
from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis as sync_redis
from aiohttp.test_utils import TestServer
from playwright.async_api import expect
from redis.asyncio import Redis

from gateway.embedded_redis import EmbeddedRedis
from gateway.redis_client import RedisAddress
from gateway.settings import Settings
from peers.asterisk import FakeAsterisk
from server.app import create_app
from server.registry import channels
from tests.support.phone import AGENTS, AMI_SECRET, Desk, PhoneRig, StartPhone
from tests.support.processes import CaseReceiver, Gateway

# Browser assertions wait for their condition; on a busy machine (CI, `stress --cpu 2`) a page can
# take well over Playwright's default 5 s to get there, which says nothing about the product.
expect.set_options(timeout=20_000)

pytest_plugins = ["tests.support.browser"]  # the `browser` fixture

CASE_SECRET = "test-case-secret"


def _machine_redis(db: int) -> str | None:
    url = os.environ.get("HOTLINE_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{db}")
    try:
        sync_redis.Redis.from_url(url, socket_timeout=1).ping()
        return url
    except sync_redis.RedisError:
        return None


@pytest.fixture(scope="session", autouse=True)
def triage_models() -> None:
    """Triage's models fitted (or loaded from the cache) once per test session, before any
    gateway starts: a first fit takes about 20 s, which no app start-up should wait for."""
    from triage.classify import warm

    warm()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis if it answers, else an embedded real one for the whole session."""
    db = int(os.environ.get("HOTLINE_TEST_REDIS_DB", "13"))
    url = _machine_redis(db)
    if url:
        yield url
        return
    embedded = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    try:
        yield embedded.url
    finally:
        embedded.stop()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """A clean database for each test."""
    sync_redis.Redis.from_url(redis_server).flushdb()
    return redis_server


def settings_for(tmp_path: Path, redis_url: str, **overrides: object) -> Settings:
    """Test settings with every channel's section; overrides by field name, kernel or section."""
    base = Settings(sections=tuple(c.settings() for c in channels() if c.settings)).with_values(
        data_dir=tmp_path / "data", redis_url=redis_url, instance_id="test-a",
        rate_limit_ip_per_hour=100_000, rate_limit_phone_per_day=100_000, workers="inline",
        kb_seed=False, phone=False,  # phone tests turn it on with their own AMI peer and ports
    )
    return base.with_values(**overrides)


def other_database(url: str, db: int) -> str:
    """The same Redis server, another database (a second hotline keeps its own state)."""
    if url.startswith("unix://"):
        return f"{url.split('?')[0]}?db={db}"
    return url.rsplit("/", 1)[0] + f"/{db}"


@pytest.fixture
def second_redis_url(redis_server: str) -> str:
    """A clean second database for each test, for a second hotline."""
    db = int(os.environ.get("HOTLINE_TEST_REDIS_DB", "13")) + 1
    url = other_database(redis_server, db)
    sync_redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
async def make_app(tmp_path: Path, redis_url: str) -> AsyncIterator:
    """Start the real app in-process on a real loopback socket; returns its base URL.
    `redis=` puts it on another database, `port=` on a chosen port."""
    servers: list[TestServer] = []

    async def start(redis: str | None = None, port: int | None = None, **overrides: object) -> str:
        url = redis or redis_url
        settings = settings_for(tmp_path, url, **overrides)
        server = TestServer(create_app(settings, RedisAddress(url=url)), host="127.0.0.1", port=port)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def app_url(make_app) -> AsyncIterator[str]:
    yield await make_app()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def gateways(tmp_path: Path, redis_url: str) -> Iterator[list[Gateway]]:
    started: list[Gateway] = []
    yield started
    for gw in started:
        gw.stop()


@pytest.fixture
def case_receiver(tmp_path: Path) -> Iterator[CaseReceiver]:
    receiver = CaseReceiver(CASE_SECRET, tmp_path).start()
    yield receiver
    receiver.stop()


@pytest.fixture
async def start_phone(make_app: Any, redis_url: str) -> AsyncIterator[StartPhone]:
    peers: list[FakeAsterisk] = []
    redis = Redis.from_url(redis_url)

    async def start(version: int = 20, secret: str = AMI_SECRET, wait_login: bool = True, **overrides: Any) -> PhoneRig:
        asterisk = FakeAsterisk(username="hotline", secret=AMI_SECRET, version=version, login_failure_delay=0.05)
        await asterisk.start()
        peers.append(asterisk)
        settings = dict(phone=True, ami_port=asterisk.port, ami_secret=secret, audiosocket_listen="127.0.0.1:0",
                        phone_agents=AGENTS, ami_reconnect_max_seconds=1.0, ticket_prefix="PH")
        base = await make_app(**{**settings, **overrides})
        if wait_login:
            await asterisk.wait_for_clients(timeout=20)
        return PhoneRig(base, asterisk, redis, redis_url)

    yield start
    for peer in peers:
        await peer.stop()
    await redis.aclose()


@pytest.fixture
async def desks() -> AsyncIterator[list[Desk]]:
    opened: list[Desk] = []
    yield opened
    for desk in opened:
        await desk.close()
