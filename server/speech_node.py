"""`hotline speech-node`: one speech node as its own process, to transcribe calls on more cores or
machines than the gateway's. It loads the Vosk model, serves AudioSocket on
HOTLINE_AUDIOSOCKET_LISTEN (Asterisk dials HOTLINE_AUDIOSOCKET_ADVERTISE), registers itself in
Redis with a heartbeat, and serves /healthz, /readyz and /metrics on HOTLINE_SPEECH_NODE_HTTP.
Any number may run; the phone leader spreads the legs over them."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from channels.phone.audiosocket import parse_address
from channels.phone.lifecycle import build_node
from channels.phone.node import SpeechNode
from channels.phone.settings import PhoneSettings
from gateway.redis_client import RedisAddress
from gateway.settings import Settings

log = logging.getLogger(__name__)

NODE: web.AppKey[SpeechNode] = web.AppKey("speech_node")


def node_app(node: SpeechNode) -> web.Application:
    app = web.Application()
    app[NODE] = node
    registry = CollectorRegistry()
    legs = Gauge("hotline_speech_node_legs", "Legs this node decodes now", registry=registry)
    capacity = Gauge("hotline_speech_node_capacity", "Legs this node decodes at once", registry=registry)
    lag = Gauge("hotline_speech_node_lag_seconds", "Worst decoding lag over this node's legs", registry=registry)
    warm = Gauge("hotline_speech_node_warm_recognizers", "Idle recognizers kept warm for the next leg", registry=registry)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        """Ready while registered: with its model loaded and its heartbeat reaching Redis."""
        status = node.status()
        ready = status["state"] == "registered"
        return web.json_response({"status": "ready" if ready else "not_ready", "checks": status}, status=200 if ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        info = node.info()
        legs.set(info.load)
        capacity.set(info.capacity)
        lag.set(info.lag)
        warm.set(info.warm)
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def run_node(settings: Settings, address: RedisAddress) -> None:
    phone = settings.section(PhoneSettings)
    redis = address.client(max_connections=64, health_check_interval=30)
    node = build_node(redis, phone, f"{settings.instance_id}-speech")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(node_app(node), access_log=None, handle_signals=False)
    try:
        await node.start()
        await runner.setup()
        host, port = parse_address(phone.speech_node_http)
        await web.TCPSite(runner, host, port).start()
        log.info("speech node serving", extra={"node": node.node_id, "audiosocket": node.address, "http": phone.speech_node_http,
                                               "transcription": node.engine.transcription, "graph": node.engine.graph})
        await stop.wait()
    finally:
        await node.stop()  # deregisters first: the leader moves its legs at once
        await runner.cleanup()
        await redis.aclose()


def _serve(settings: Settings, address: RedisAddress) -> int:
    asyncio.run(run_node(settings, address))
    return 0


def run_from_env() -> int:
    from server.process import run_process

    return run_process(_serve)


if __name__ == "__main__":
    sys.exit(run_from_env())
