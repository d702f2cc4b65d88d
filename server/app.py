"""The application factory: wires Redis, intake, router, outbox, live hub and all routes."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from bot import engine as bot_engine
from gateway.app_keys import (
    BLOBS,
    INTAKE,
    LIVE_HUB,
    METRICS,
    OUTBOX,
    RATE_LIMITER,
    REDIS,
    SESSIONS,
    SETTINGS,
    STOP,
    TICKETS,
    USERS,
)
from gateway.blobs import BlobStore
from gateway.channel import Channel
from gateway.errors import error_middleware
from gateway.intake import Intake
from gateway.live_events import LiveHub
from gateway.metrics import Metrics
from gateway.rate_limits import RateLimiter
from gateway.redis_client import RedisAddress
from gateway.replication import ReplicationBarrier, replicated_writes
from gateway.sessions import Sessions
from gateway.settings import Settings
from gateway.tickets import Tickets
from gateway.users import Users
from knowledge_base import routes as kb_routes
from knowledge_base.app_keys import KNOWLEDGE
from knowledge_base.live import LiveKnowledge
from knowledge_base.seed import seed_if_empty
from server import (
    case_status_routes,
    desk_routes,
    duplicate_routes,
    followup_routes,
    hotspot_routes,
    local_inbox_routes,
    ops_routes,
    rates_routes,
    wall_page,
    wall_routes,
)
from server.delivery import build_outbox, run_delivery
from server.registry import channels
from server.worker_process import WORKER_SUPERVISOR, WorkerSupervisor
from triage import routes as triage_routes
from triage.app_keys import BOT_ENGINE, CATALOGUE, CONVERSATIONS, TURNS
from triage.catalogue_store import CatalogueStore
from triage.classify import warm as warm_triage
from triage.conversations import Conversations
from triage.turn import Turns

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
    a structured access log line, security headers, and revalidation of static files."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            for name, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            if isinstance(response, web.FileResponse):
                # Pages and their modules are checked with the server on every load (a 304 when
                # unchanged): after an upgrade, a browser must not mix cached modules with new ones.
                response.headers.setdefault("Cache-Control", "no-cache")
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        request.app[METRICS].observe_http(request.method, route, status, elapsed)
        if status >= 400 or elapsed > 1:
            log.info("http", extra={"method": request.method, "route": route, "status": status, "ms": round(elapsed * 1000, 1)})


def create_app(settings: Settings, address: RedisAddress, worker_env: dict[str, str] | None = None) -> web.Application:
    """The web app on the Redis at `address`. With `settings.workers == "process"`, `worker_env`
    is the environment of the supervised delivery worker (with `address.child_env()`)."""
    redis = address.client(max_connections=256, health_check_interval=30)
    middlewares = [observe, error_middleware]
    barrier = None
    if settings.redis_min_replicas > 0:  # inside error_middleware, which renders its 503
        barrier = ReplicationBarrier(address, settings.redis_min_replicas, settings.redis_replica_timeout_seconds)
        middlewares.append(replicated_writes(barrier))
    app = web.Application(middlewares=middlewares, client_max_size=settings.attachments_max_total_bytes + 1024 * 1024)
    if barrier is not None:
        app.on_startup.append(lambda _: barrier.prime())
        app.on_cleanup.append(lambda _: barrier.aclose())
    metrics = Metrics()
    tickets = Tickets(redis)
    app[SETTINGS] = settings
    app[REDIS] = redis
    app[METRICS] = metrics
    app[TICKETS] = tickets
    app[INTAKE] = Intake(redis, settings.ticket_prefix)
    app[USERS] = Users(redis)
    app[SESSIONS] = Sessions(redis, settings.session_ttl_seconds, settings.cookie_secure)
    app[RATE_LIMITER] = RateLimiter(redis)
    app[BLOBS] = BlobStore(settings.blob_dir)
    app[LIVE_HUB] = LiveHub(redis)
    app.on_shutdown.append(lambda app: app[LIVE_HUB].close_all())
    app[KNOWLEDGE] = LiveKnowledge(redis)
    app[CONVERSATIONS] = Conversations(redis)
    app[CATALOGUE] = CatalogueStore(redis)
    app[STOP] = asyncio.Event()
    app[OUTBOX] = build_outbox(settings, redis, tickets, metrics)
    app[WORKER_SUPERVISOR] = WorkerSupervisor(worker_env or {}) if settings.workers == "process" else None
    app.cleanup_ctx.append(_background)  # before the channels': they start after it and stop before it
    bot_engine.setup(app)  # HOTLINE_NLU: embedded or Rasa (with its action endpoint)
    app[TURNS] = Turns(app[INTAKE], tickets, app[KNOWLEDGE], app[CONVERSATIONS], app[BOT_ENGINE], app[OUTBOX])

    kb_routes.setup(app)
    triage_routes.setup(app)
    desk_routes.setup(app)
    local_inbox_routes.setup(app)
    case_status_routes.setup(app)
    rates_routes.setup(app)
    wall_routes.setup(app)
    wall_page.setup(app)  # the page /supervisor/wall (its data: wall_routes) and its static files
    hotspot_routes.setup(app)
    followup_routes.setup(app)
    duplicate_routes.setup(app)
    for channel in channels():
        channel.setup(app)
        _serve_static(app, channel)
    ops_routes.setup(app)
    return app


def _serve_static(app: web.Application, channel: Channel) -> None:
    if channel.static_dir is not None:
        app.router.add_static(f"/static/{channel.name}/", channel.static_dir, name=f"{channel.name}_static")


async def _background(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    stop = app[STOP]
    await _warn_without_aof(app[REDIS], settings.redis_min_replicas)
    if settings.kb_seed:
        await seed_if_empty(app[REDIS])
    for channel in channels():
        if channel.prepare is not None:
            await channel.prepare(app)
    await _warm_triage()
    await app[KNOWLEDGE].refresh()
    tasks = [
        asyncio.create_task(app[LIVE_HUB].run(stop), name="live-hub"),
        asyncio.create_task(app[KNOWLEDGE].run(stop), name="knowledge"),
        asyncio.create_task(app[CATALOGUE].follow(stop), name="dispatch-catalogue"),
    ]
    supervisor = app[WORKER_SUPERVISOR]
    if settings.workers == "inline":
        tasks.append(asyncio.create_task(run_delivery(app[OUTBOX], app[KNOWLEDGE], settings, stop), name="delivery"))
    elif supervisor is not None:
        tasks.append(asyncio.create_task(supervisor.run(stop), name="worker-supervisor"))
    log.info("gateway started", extra={"instance": settings.instance_id, "workers": settings.workers})
    yield
    stop.set()
    for ws_conn in list(app[LIVE_HUB].connections):
        await ws_conn.ws.close()
    if supervisor is not None:
        await supervisor.shutdown()
    await asyncio.wait(tasks, timeout=15)
    for task in tasks:
        task.cancel()
    await app[REDIS].aclose()


async def _warm_triage() -> None:
    """Triage's models before the first request (fitted once, about 20 s, on a fresh machine)."""
    started = time.monotonic()
    log.info("loading triage models (a first start fits them, about 20 s)")
    await asyncio.to_thread(warm_triage)
    log.info("triage models ready", extra={"seconds": round(time.monotonic() - started, 1)})


async def _warn_without_aof(redis: Redis, min_replicas: int) -> None:
    """Durability rests on Redis persistence: say so loudly when it is off or lags the replies."""
    try:
        config = await redis.config_get("append*")
    except Exception:
        return  # CONFIG may be disabled on managed Redis
    if config.get("appendonly") != "yes":
        log.warning("Redis append-only file is off: tickets acknowledged to citizens can be lost if Redis restarts; "
                    "run Redis with appendonly yes (the embedded Redis always does)")
    elif config.get("appendfsync") != "always" and min_replicas == 0:
        # A replica that confirmed the write (HOTLINE_REDIS_MIN_REPLICAS) covers the same window.
        log.warning("Redis appendfsync is not 'always' and no replica confirms writes: a Redis killed while its disk "
                    "is busy can lose up to two seconds of acknowledged tickets; run it with appendfsync always "
                    "(as the embedded Redis does) or set HOTLINE_REDIS_MIN_REPLICAS")
