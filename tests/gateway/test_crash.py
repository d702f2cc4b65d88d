"""SIGKILL the gateway while submissions are flowing, then restart it: every submission that got a
2xx is delivered to the (separate, idempotent) case system, and none as two cases."""
from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import pytest

from tests.conftest import CASE_SECRET
from tests.support.processes import CaseReceiver, Gateway
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

GATEWAY_ENV = dict(
    HOTLINE_CASE_SYSTEM_TIMEOUT_SECONDS="2", HOTLINE_OUTBOX_BACKOFF_BASE_SECONDS="0.1",
    HOTLINE_OUTBOX_BACKOFF_CAP_SECONDS="1", HOTLINE_OUTBOX_CLAIM_IDLE_SECONDS="3",
)


async def _load(base: str, acked: dict[str, str], stop: asyncio.Event, workers: int = 8) -> int:
    """Submit until stopped; record submission key → ticket id for every 2xx."""
    errors = 0

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        while not stop.is_set():
            key = uuid.uuid4().hex
            try:
                async with http.post(f"{base}/api/v1/requests", headers={"Idempotency-Key": key},
                                     json={"description": f"压力测试诉求 {key}", "phone": f"137{int(key, 16) % 10**8:08d}"}) as r:
                    if r.status in (200, 201):
                        acked[key] = (await r.json())["ticket_id"]
            except (aiohttp.ClientError, asyncio.TimeoutError):
                errors += 1
                await asyncio.sleep(0.01)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        await asyncio.gather(*(worker(http) for _ in range(workers)))
    return errors


async def test_sigkill_under_load_loses_and_doubles_nothing(tmp_path, redis_url: str, gateways: list[Gateway], case_receiver: CaseReceiver) -> None:
    env = dict(GATEWAY_ENV, CASE_SYSTEM_URL=case_receiver.base, CASE_SYSTEM_SECRET=CASE_SECRET)
    first = Gateway(redis_url, tmp_path / "gw", HOTLINE_INSTANCE_ID="crash-a", **env)
    gateways.append(first)
    first.start()

    acked: dict[str, str] = {}
    stop = asyncio.Event()
    load = asyncio.create_task(_load(first.base, acked, stop))
    await eventually(lambda: asyncio.sleep(0, len(acked)), lambda n: n >= 150, timeout=30)
    first.kill()  # mid-load: requests in flight, router and outbox entries pending
    stop.set()
    await load
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        with pytest.raises((aiohttp.ClientError, asyncio.TimeoutError)):  # the kill is real: nobody answers
            await http.get(f"{first.base}/healthz")

    second = Gateway(redis_url, tmp_path / "gw", HOTLINE_INSTANCE_ID="crash-b", **env)
    gateways.append(second)
    second.start()

    async with aiohttp.ClientSession() as http:
        async def stats() -> dict:
            async with http.get(f"{case_receiver.base}/_stats") as r:
                return await r.json()

        started = time.monotonic()
        expected = set(acked.values())
        result = await eventually(stats, lambda s: expected <= {c["ticket_id"] for c in s["cases"].values()}, timeout=90)
        print(f"\n{len(expected)} acknowledged tickets all delivered {time.monotonic() - started:.1f}s after restart; "
              f"{sum(result['requests_per_key'].values()) - len(result['cases'])} redundant HTTP deliveries absorbed by idempotency")

    delivered = [c["ticket_id"] for c in result["cases"].values()]
    assert len(delivered) == len(set(delivered)), "a ticket became two cases"
    assert all(key == f"{c['ticket_id']}:case" for key, c in result["cases"].items())
    assert len(set(acked.values())) == len(acked), "two submissions share a ticket id"
