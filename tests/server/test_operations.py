"""Rate limits, metrics, readiness."""
from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestServer

from gateway.embedded_redis import EmbeddedRedis
from gateway.redis_client import RedisAddress
from server.app import create_app
from tests.conftest import settings_for
from tests.support.waiting import eventually

FORM = {"description": "公园里的健身器材损坏了，存在安全隐患", "phone": "13611112222"}


async def test_submissions_are_limited_per_ip_and_per_phone(make_app, http: aiohttp.ClientSession) -> None:
    base = await make_app(rate_limit_ip_per_hour=3, rate_limit_phone_per_day=2)
    statuses = []
    for i in range(2):
        async with http.post(f"{base}/api/v1/requests", json=FORM, headers={"Idempotency-Key": f"k{i}"}) as r:
            statuses.append(r.status)
    async with http.post(f"{base}/api/v1/requests", json=FORM, headers={"Idempotency-Key": "k0"}) as r:
        assert r.status == 200  # a retry of an accepted submission is never limited
    async with http.post(f"{base}/api/v1/requests", json=FORM, headers={"Idempotency-Key": "k2"}) as r:
        assert r.status == 429
        body = await r.json()
        assert body["error"] == "rate_limited" and "该号码" in body["message"]
        assert 0 < int(r.headers["Retry-After"]) <= 86400
    async with http.post(f"{base}/api/v1/requests", json={**FORM, "phone": "13633334444"}, headers={"Idempotency-Key": "k3"}) as r:
        assert r.status == 429 and "提交过于频繁" in (await r.json())["message"]
    assert statuses == [201, 201]


async def test_metrics_count_intake_deliveries_and_latency(app_url: str, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{app_url}/api/v1/requests", json=FORM) as r:
        assert r.status == 201

    async def metrics() -> str:
        async with http.get(f"{app_url}/metrics") as r:
            return await r.text()

    # The attempt is counted when the case system answers, the outbox entry removed a moment later.
    text = await eventually(metrics, lambda t: 'hotline_delivery_attempts_total{hop="case",outcome="delivered"} 1.0' in t
                            and "hotline_outbox_lag 0.0" in t)
    assert 'hotline_intake_total{channel="web",outcome="created"} 1.0' in text
    assert 'hotline_http_request_duration_seconds_count{method="POST",route="/api/v1/requests",status="201"} 1.0' in text


async def test_readyz_fails_when_redis_goes_away(tmp_path, http: aiohttp.ClientSession) -> None:
    redis = EmbeddedRedis(tmp_path / "r").start()
    server = TestServer(create_app(settings_for(tmp_path, redis.url), RedisAddress(url=redis.url)), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        async with http.get(f"{base}/readyz") as r:
            assert r.status == 200 and (await r.json())["checks"]["redis"] == "ok"
        redis.stop()
        async with http.get(f"{base}/readyz") as r:
            assert r.status == 503
            assert (await r.json())["checks"]["redis"].startswith("unreachable")
        async with http.get(f"{base}/healthz") as r:
            assert r.status == 200
    finally:
        redis.stop()
        await server.close()
