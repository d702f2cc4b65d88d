"""The application factory: wires Redis, intake, router, outbox, live hub and all routes."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from triage import engines as bot_engine
from triage.catalogue_store import CatalogueStore
from triage.classify import warm as warm_triage
from triage.conversations import Conversations
from triage.turn import Turns
from channels.partner import desk as partner_desk
from channels.partner import routes as partner_routes
from channels.partner.directory import partner_directory
from channels.phone import routes as phone_routes
from channels.video import routes as video_routes
from channels.web import chat as chat_routes
from channels.wechat import routes as wechat_routes
from channels.web import routes as web_routes
from gateway import desk_routes, ops_routes
from gateway.auth import Sessions
from gateway.blobs import BlobStore
from gateway.delivery import build_outbox, run_delivery
from gateway.errors import error_middleware
from gateway.intake import Intake
from gateway.live_events import LiveHub
from gateway.metrics import Metrics
from gateway.rate_limits import RateLimiter
from gateway.settings import Settings
from gateway.tickets import Tickets
from gateway.users import Users
from gateway.worker_process import WorkerSupervisor
from knowledge_base import routes as kb_routes
from knowledge_base.live import LiveKnowledge
from knowledge_base.seed import seed_if_empty

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
        request.app["metrics"].observe_http(request.method, route, status, elapsed)
        if status >= 400 or elapsed > 1:
            log.info("http", extra={"method": request.method, "route": route, "status": status, "ms": round(elapsed * 1000, 1)})


def create_app(settings: Settings, redis_url: str, worker_env: dict[str, str] | None = None) -> web.Application:
    """The web app. With `settings.workers == "process"`, `worker_env` is the environment of the
    supervised delivery worker (it must carry REDIS_URL)."""
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
    app["knowledge"] = LiveKnowledge(redis)
    app["conversations"] = Conversations(redis)
    app["catalogue"] = CatalogueStore(redis)
    app["stop"] = asyncio.Event()
    app["partners"] = partner_directory(settings, redis)
    app["outbox"] = build_outbox(settings, redis, tickets, metrics, app["partners"])
    app["worker_supervisor"] = WorkerSupervisor(worker_env or {}) if settings.workers == "process" else None
    app["phone"] = _phone_channel(app) if settings.phone else None
    app["video"] = _video_channel(app) if settings.video else None
    app.cleanup_ctx.append(_background)
    bot_engine.setup(app)  # HOTLINE_NLU: embedded or Rasa (with its action endpoint)
    app["turns"] = Turns(app["intake"], tickets, app["knowledge"], app["conversations"], app["bot_engine"], app["outbox"])

    web_routes.setup(app)
    chat_routes.setup(app)
    kb_routes.setup(app)
    desk_routes.setup(app)
    phone_routes.setup(app)
    wechat_routes.setup(app)
    partner_routes.setup(app)
    partner_desk.setup(app)
    video_routes.setup(app)
    ops_routes.setup(app)
    return app


def _phone_channel(app: web.Application) -> Any:
    # Imported only when on: the phone channel pulls in Vosk and panoramisk.
    from channels.phone.config import ami_config
    from channels.phone.service import PhoneChannel
    from speech.recognizer import SpeechEngine

    settings: Settings = app["settings"]
    try:
        ami = ami_config(settings)
    except ValueError as exc:
        # Citizens' web and WeChat requests must not go down with a missing phone secret.
        log.error("phone channel disabled", extra={"reason": str(exc)})
        return None
    speech = SpeechEngine(settings.vosk_model, workers=settings.speech_workers or None,
                          partial_interval=settings.speech_partial_interval_seconds, lag_threshold=settings.speech_lag_threshold_seconds)
    return PhoneChannel(settings, ami, app["redis"], app["intake"], app["tickets"], app["knowledge"], app["metrics"], speech)


def _video_channel(app: web.Application) -> Any:
    # Imported only when on: the video channel pulls in aiortc.
    from channels.video.service import VideoChannel

    return VideoChannel(app["settings"], app["redis"], app["intake"], app["tickets"], app["blobs"], app["users"])


async def _background(app: web.Application):  # type: ignore[no-untyped-def]
    settings: Settings = app["settings"]
    stop: asyncio.Event = app["stop"]
    await _warn_without_aof(app["redis"])
    if settings.kb_seed:
        await seed_if_empty(app["redis"])
    await app["partners"].seed_if_empty()
    await _warm_triage()
    await app["knowledge"].refresh()
    tasks = [
        asyncio.create_task(app["live_hub"].run(stop), name="live-hub"),
        asyncio.create_task(app["knowledge"].run(stop), name="knowledge"),
        asyncio.create_task(app["catalogue"].follow(stop), name="dispatch-catalogue"),
    ]
    if settings.workers == "inline":
        tasks.append(asyncio.create_task(run_delivery(app["outbox"], app["knowledge"], settings, stop), name="delivery"))
    elif settings.workers == "process":
        supervisor: WorkerSupervisor = app["worker_supervisor"]
        tasks.append(asyncio.create_task(supervisor.run(stop), name="worker-supervisor"))
    if app["phone"] is not None:
        await app["phone"].start()
    if app["video"] is not None:
        await app["video"].start()
    log.info("gateway started", extra={"instance": settings.instance_id, "workers": settings.workers})
    yield
    stop.set()
    if app["video"] is not None:
        await app["video"].stop()
    if app["phone"] is not None:
        await app["phone"].stop()
    for ws_conn in list(app["live_hub"].connections):
        await ws_conn.ws.close()
    if app["worker_supervisor"] is not None:
        await app["worker_supervisor"].shutdown()
    await asyncio.wait(tasks, timeout=15)
    for task in tasks:
        task.cancel()
    if "wechat" in app:
        await app["wechat"].api.close()
    await app["redis"].aclose()


async def _warm_triage() -> None:
    """Triage's models before the first request (fitted once, about 20 s, on a fresh machine)."""
    started = time.monotonic()
    log.info("loading triage models (a first start fits them, about 20 s)")
    await asyncio.to_thread(warm_triage)
    log.info("triage models ready", extra={"seconds": round(time.monotonic() - started, 1)})


async def _warn_without_aof(redis: Redis) -> None:
    """Durability rests on Redis persistence: say so loudly when it is off."""
    try:
        config = await redis.config_get("appendonly")
    except Exception:
        return  # CONFIG may be disabled on managed Redis
    if config.get("appendonly") != "yes":
        log.warning("Redis append-only file is off: tickets acknowledged to citizens can be lost if Redis restarts; "
                    "run Redis with appendonly yes (the embedded Redis always does)")
