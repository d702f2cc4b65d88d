"""Operations: health, readiness, Prometheus metrics, the ticket JSON Schema and the OpenAPI."""
from __future__ import annotations

import asyncio
import json

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway import keys
from gateway.openapi import openapi_document
from gateway.ticket import ticket_json_schema


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


READY_REDIS_TIMEOUT_SECONDS = 2.0  # a Redis that hangs must not hang the probe


async def readyz(request: web.Request) -> web.Response:
    """200 when this instance can take requests and serve desks; 503 with the failing checks
    otherwise. Not ready: Redis unreachable, outbox lag above the limit, the live hub dead or
    not subscribed while desks are connected, the delivery worker process restarting, or the
    phone lease task dead or this instance leading while Redis names another leader. A phone
    lease lost in an outage and being re-acquired (or held by another instance) is shown only."""
    app = request.app
    checks: dict[str, object] = {}
    failing: list[str] = []
    leader: str | None = None
    try:
        await asyncio.wait_for(app["redis"].ping(), timeout=READY_REDIS_TIMEOUT_SECONDS)
        checks["redis"] = "ok"
        lag = await app["outbox"].lag()
        checks["outbox_lag"] = lag
        if lag > app["settings"].ready_max_outbox_lag:
            failing.append("outbox_lag")
        if app.get("phone") is not None:
            leader = await app["phone"].lease_holder()
    except Exception as exc:  # any failure to reach Redis means not ready
        checks["redis"] = f"unreachable: {type(exc).__name__}"
        failing.append("redis")

    hub = app["live_hub"].health()
    checks["live_hub"] = hub
    if not hub["ok"]:
        failing.append("live_hub")

    supervisor = app["worker_supervisor"]
    if supervisor is not None:
        checks["delivery_worker"] = "running" if supervisor.running else "restarting"
        checks["delivery_worker_restarts"] = supervisor.restarts
        if not supervisor.running:
            failing.append("delivery_worker")
    elif app["settings"].workers == "inline":
        checks["delivery_worker"] = f"inline: {app['outbox'].worker.state}"  # informational: it retries by itself

    phone = app.get("phone")
    if phone is not None:
        checks["phone"] = phone.status()  # informational: web intake works without Asterisk
        # Informational too: without a speech model calls still pop up and become tickets, untranscribed.
        checks["transcription"] = phone.speech.transcription
        lease = {**phone.lease(), "holder": leader}
        if lease["state"] == "dead":
            failing.append("phone_lease")  # this instance would never lead again
        elif lease["leader"] and leader is not None and leader != app["settings"].instance_id:
            lease["conflict"] = True  # leading without holding the lease: it steps down at its next renewal
            failing.append("phone_lease")
        checks["phone_lease"] = lease

    if failing:
        checks["failing"] = failing
    ready = not failing
    return web.json_response({"status": "ready" if ready else "not_ready", "checks": checks}, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    try:
        app["metrics"].outbox_lag.set(await app["outbox"].lag())
        app["metrics"].dead_letter_depth.set(await app["redis"].xlen(keys.DEAD_LETTER_STREAM))
    except Exception:
        pass  # still serve the counters when Redis is down
    body = app["metrics"].exposition()
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
