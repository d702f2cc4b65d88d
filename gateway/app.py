"""The application factory: wires Redis, intake, router, outbox, live hub and all routes."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from channels.web import routes as web_routes
from gateway import desk_routes, ops_routes
from gateway.auth import Sessions
from gateway.blobs import BlobStore
from gateway.delivery_targets import CaseSystemTarget, DeliveryTarget, LocalInboxTarget
from gateway.errors import error_middleware
from gateway.intake import Intake
from gateway.live_events import LiveHub
from gateway.metrics import Metrics
from gateway.outbox import CASE_HOP, Outbox
from gateway.rate_limits import RateLimiter
from gateway.router import Router
from gateway.settings import Settings
from gateway.tickets import Tickets
from gateway.users import Users

log = logging.getLogger(__name__)

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                               "connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
}


@web.middleware
async def observe(request: web.Request, handler: Any) -> web.StreamResponse:
    """Latency histogram by route template (not raw path: ids would explode the label set),
    a structured access log line, and security headers."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            for name, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        request.app["metrics"].http_latency.labels(request.method, route, str(status)).observe(elapsed)
        if status >= 400 or elapsed > 1:
            log.info("http", extra={"method": request.method, "route": route, "status": status, "ms": round(elapsed * 1000, 1)})


def create_app(settings: Settings, redis_url: str) -> web.Application:
    app = web.Application(
        middlewares=[observe, error_middleware],
        client_max_size=settings.attachments_max_total_bytes + 1024 * 1024,
    )
    redis = Redis.from_url(redis_url, max_connections=256, health_check_interval=30)
    metrics = Metrics()
    tickets = Tickets(redis)
    app["settings"] = settings
    app["redis"] = redis
    app["metrics"] = metrics
    app["tickets"] = tickets
    app["intake"] = Intake(redis, settings.ticket_prefix)
    app["users"] = Users(redis)
    app["sessions"] = Sessions(redis, settings.session_ttl_seconds, settings.cookie_secure)
    app["rate_limiter"] = RateLimiter(redis)
    app["blobs"] = BlobStore(settings.blob_dir)
    app["live_hub"] = LiveHub(redis)
    app["stop"] = asyncio.Event()
    target: DeliveryTarget
    if settings.case_system_url:
        target = CaseSystemTarget(settings.case_system_url, settings.case_system_secret, settings.case_system_timeout_seconds)
    else:
        target = LocalInboxTarget(redis)
    app["outbox"] = Outbox(
        redis, tickets, {CASE_HOP: target}, metrics, settings.instance_id,
        retry_horizon=settings.outbox_retry_horizon_seconds, backoff_base=settings.outbox_backoff_base_seconds,
        backoff_cap=settings.outbox_backoff_cap_seconds, claim_idle=settings.outbox_claim_idle_seconds,
        concurrency=settings.outbox_concurrency,
    )
    app.cleanup_ctx.append(_background)

    web_routes.setup(app)
    desk_routes.setup(app)
    ops_routes.setup(app)
    return app


async def _background(app: web.Application):  # type: ignore[no-untyped-def]
    settings: Settings = app["settings"]
    outbox: Outbox = app["outbox"]
    router = Router(outbox, settings.instance_id, settings.outbox_claim_idle_seconds)
    stop: asyncio.Event = app["stop"]
    await outbox.worker.ensure_group()
    await router.worker.ensure_group()
    await _warn_without_aof(app["redis"])
    tasks = [
        asyncio.create_task(router.worker.run(stop), name="router"),
        asyncio.create_task(outbox.worker.run(stop), name="outbox"),
        asyncio.create_task(_release_retries(outbox, stop), name="outbox-retries"),
        asyncio.create_task(app["live_hub"].run(stop), name="live-hub"),
    ]
    log.info("gateway started", extra={"instance": settings.instance_id, "case_target": outbox.targets[CASE_HOP].name})
    yield
    stop.set()
    for ws_conn in list(app["live_hub"].connections):
        await ws_conn.ws.close()
    await asyncio.wait(tasks, timeout=15)
    for task in tasks:
        task.cancel()
    for target in outbox.targets.values():
        if isinstance(target, CaseSystemTarget):
            await target.close()
    await app["redis"].aclose()


async def _warn_without_aof(redis: Redis) -> None:
    """Durability rests on Redis persistence: say so loudly when it is off."""
    try:
        config = await redis.config_get("appendonly")
    except Exception:
        return  # CONFIG may be disabled on managed Redis
    if config.get("appendonly") != "yes":
        log.warning("Redis append-only file is off: tickets acknowledged to citizens can be lost if Redis restarts; "
                    "run Redis with appendonly yes (the embedded Redis always does)")


async def _release_retries(outbox: Outbox, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await outbox.release_due_retries()
        except Exception:
            log.exception("releasing due retries failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.25)
        except asyncio.TimeoutError:
            pass
