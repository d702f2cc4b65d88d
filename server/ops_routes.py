"""Operations: health, readiness, Prometheus metrics, the ticket JSON Schema and the OpenAPI."""
from __future__ import annotations

import asyncio
import json

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from redis.asyncio import Redis

from gateway import keys
from gateway.app_keys import LIVE_HUB, METRICS, OUTBOX, REDIS, SETTINGS
from gateway.ticket import ticket_json_schema
from server.openapi import openapi_document
from server.registry import channels
from server.worker_process import WORKER_SUPERVISOR


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


READY_REDIS_TIMEOUT_SECONDS = 2.0  # a Redis that hangs must not hang the probe


async def online_replicas(redis: Redis) -> int:
    """Replicas of the primary that stream its writes now (not those still in their first sync)."""
    info = await asyncio.wait_for(redis.info("replication"), timeout=READY_REDIS_TIMEOUT_SECONDS)
    return sum(1 for name, value in info.items()
               if name.startswith("slave") and isinstance(value, dict) and value.get("state") == "online")


async def readyz(request: web.Request) -> web.Response:
    """200 when this instance can take requests and serve desks; 503 with the failing checks
    otherwise. Not ready: Redis unreachable, fewer online replicas than
    HOTLINE_REDIS_MIN_REPLICAS, outbox lag above the limit, the live hub dead or
    not subscribed while desks are connected, the delivery worker process restarting, or the
    phone lease task dead or this instance leading while Redis names another leader. A phone
    lease lost in an outage and being re-acquired (or held by another instance) is shown only."""
    app = request.app
    checks: dict[str, object] = {}
    failing: list[str] = []
    try:
        await asyncio.wait_for(app[REDIS].ping(), timeout=READY_REDIS_TIMEOUT_SECONDS)
        checks["redis"] = "ok"
        lag = await app[OUTBOX].lag()
        checks["outbox_lag"] = lag
        if lag > app[SETTINGS].ready_max_outbox_lag:
            failing.append("outbox_lag")
        wanted = app[SETTINGS].redis_min_replicas
        if wanted > 0:  # below it every write would be answered 503 replication_timeout
            replicas = await online_replicas(app[REDIS])
            checks["redis_replicas"] = replicas
            if replicas < wanted:
                failing.append("redis_replicas")
    except Exception as exc:  # any failure to reach Redis means not ready
        checks["redis"] = f"unreachable: {type(exc).__name__}"
        failing.append("redis")

    hub = app[LIVE_HUB].health()
    checks["live_hub"] = hub
    if not hub["ok"]:
        failing.append("live_hub")

    supervisor = app[WORKER_SUPERVISOR]
    if supervisor is not None:
        checks["delivery_worker"] = "running" if supervisor.running else "restarting"
        checks["delivery_worker_restarts"] = supervisor.restarts
        if not supervisor.running:
            failing.append("delivery_worker")
    elif app[SETTINGS].workers == "inline":
        checks["delivery_worker"] = f"inline: {app[OUTBOX].worker.state}"  # informational: it retries by itself

    for channel in channels():
        if channel.readiness is not None:
            part = await channel.readiness(app)
            checks.update(part.checks)
            failing.extend(part.failing)

    if failing:
        checks["failing"] = failing
    ready = not failing
    return web.json_response({"status": "ready" if ready else "not_ready", "checks": checks}, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    try:
        app[METRICS].outbox_lag.set(await app[OUTBOX].lag())
        app[METRICS].dead_letter_depth.set(await app[REDIS].xlen(keys.DEAD_LETTER_STREAM))
    except Exception:
        pass  # still serve the counters when Redis is down
    body = app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def ticket_schema(_: web.Request) -> web.Response:
    return web.json_response(ticket_json_schema(), content_type="application/schema+json", dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(), dumps=lambda o: json.dumps(o, ensure_ascii=False))


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/readyz", readyz, name="readyz")
    app.router.add_get("/metrics", metrics, name="metrics")
    app.router.add_get("/schema/ticket.v1.json", ticket_schema, name="ticket_schema")
    app.router.add_get("/openapi.json", openapi, name="openapi")
