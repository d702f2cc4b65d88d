"""Operations: health, readiness, Prometheus metrics, the ticket JSON Schema and the OpenAPI."""
from __future__ import annotations

import json

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway import keys
from gateway.openapi import openapi_document
from gateway.ticket import ticket_json_schema


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks: dict[str, object] = {}
    ready = True
    try:
        await app["redis"].ping()
        checks["redis"] = "ok"
        lag = await app["outbox"].lag()
        checks["outbox_lag"] = lag
        supervisor = app["worker_supervisor"]
        if supervisor is not None:
            checks["delivery_worker"] = "running" if supervisor.running else "restarting"
            checks["delivery_worker_restarts"] = supervisor.restarts
        if app.get("phone") is not None:
            checks["phone"] = app["phone"].status()  # informational: web intake works without Asterisk
        if lag > app["settings"].ready_max_outbox_lag:
            ready = False
    except Exception as exc:  # any failure to reach Redis means not ready
        checks["redis"] = f"unreachable: {type(exc).__name__}"
        ready = False
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
