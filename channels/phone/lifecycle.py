"""The phone channel on the app: built when HOTLINE_PHONE is on (Vosk and panoramisk are
imported only then), started after the gateway's own start-up and stopped before it, its part
of /readyz, and the call transfer it offers to other channels."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web

from channels.phone import routes
from channels.phone.settings import PhoneSettings
from channels.phone.state import PHONE
from channels.phone.transfer import PhoneCallTransfer
from gateway.app_keys import CALL_TRANSFER, INTAKE, METRICS, REDIS, SETTINGS, TICKETS
from gateway.channel import Readiness
from knowledge_base.app_keys import KNOWLEDGE

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from channels.phone.node import SpeechNode
    from channels.phone.service import PhoneChannel

log = logging.getLogger(__name__)

LEASE_CHECK_TIMEOUT_SECONDS = 2.0  # /readyz answers within seconds even when Redis hangs


def setup(app: web.Application) -> None:
    app[PHONE] = _build(app) if app[SETTINGS].section(PhoneSettings).phone else None
    app[CALL_TRANSFER] = PhoneCallTransfer(app)  # also without a local AMI session: the leader may hold the call
    app.cleanup_ctx.append(_run)
    routes.setup(app)


def _build(app: web.Application) -> PhoneChannel | None:
    from channels.phone.config import ami_config
    from channels.phone.service import PhoneChannel

    settings = app[SETTINGS]
    phone = settings.section(PhoneSettings)
    try:
        ami = ami_config(phone, settings.data_dir)
    except ValueError as exc:
        # Citizens' web and WeChat requests must not go down with a missing phone secret.
        log.error("phone channel disabled", extra={"reason": str(exc)})
        return None
    node = build_node(app[REDIS], phone, f"{settings.instance_id}-speech") if phone.speech_local_node else None
    return PhoneChannel(settings, ami, app[REDIS], app[INTAKE], app[TICKETS], app[KNOWLEDGE], app[METRICS], node)


def build_node(redis: Redis, phone: PhoneSettings, name: str) -> SpeechNode:
    """A speech node on the AudioSocket address of the settings (in `hotline run` or `hotline speech-node`)."""
    from channels.phone.config import audiosocket_allow
    from channels.phone.node import SpeechNode
    from speech.recognizer import SpeechEngine

    # The node sizes its warm recognizers to its capacity, which it knows once the model is loaded.
    engine = SpeechEngine(phone.vosk_model, workers=phone.speech_workers or None,
                          partial_interval=phone.speech_partial_interval_seconds, lag_threshold=phone.speech_lag_threshold_seconds)
    return SpeechNode(redis, phone, engine, audiosocket_allow(phone), name=name)


async def _run(app: web.Application) -> AsyncIterator[None]:
    phone = app[PHONE]
    if phone is not None:
        await phone.start()
    yield
    if phone is not None:
        await phone.stop()


async def readiness(app: web.Application) -> Readiness:
    """Informational but for the lease: web intake works without Asterisk, and calls without a
    speech model still pop up and become tickets, untranscribed."""
    phone = app[PHONE]
    if phone is None:
        return Readiness()
    checks: dict[str, object] = {"phone": phone.status(), "transcription": phone.transcription}
    failing: list[str] = []
    try:
        nodes = await asyncio.wait_for(phone.nodes.live(), timeout=LEASE_CHECK_TIMEOUT_SECONDS)
        checks["speech_nodes"] = [{"node": n.node_id, "audiosocket": n.address, "capacity": n.capacity, "legs": n.load, "lag": n.lag}
                                  for n in nodes]
    except Exception:  # Redis unreachable or stuck: the kernel's own check says so
        checks["speech_nodes"] = "unknown"
    if phone.node is not None:
        checks["speech_node"] = phone.node.status()
    try:
        leader = await asyncio.wait_for(phone.lease_holder(), timeout=LEASE_CHECK_TIMEOUT_SECONDS)
    except Exception:  # Redis unreachable or stuck: the kernel's own check says so
        leader = None
    lease = {**phone.lease(), "holder": leader}
    if lease["state"] == "dead":
        failing.append("phone_lease")  # this instance would never lead again
    elif lease["leader"] and leader is not None and leader != app[SETTINGS].instance_id:
        lease["conflict"] = True  # leading without holding the lease: it steps down at its next renewal
        failing.append("phone_lease")
    checks["phone_lease"] = lease
    return Readiness(checks, failing)


def start_notice(app: web.Application) -> str | None:
    phone = app[PHONE]
    if phone is None or phone.node is None:
        return None
    if phone.transcription == "on":
        if phone.node.engine.graph != "model":
            return None
        return ("通话实时转写使用模型自带的解码图，每路通话占用的 CPU 和内存较多（运行 make model 生成静态解码图）\n"
                "  (live call transcription decodes with the model's own lookahead graph: several times the CPU and memory per call; "
                "`make model` composes the static graph, see README, Phone)")
    return (f"通话实时转写未启用：语音模型未安装（运行 make model 下载）\n"
            f"  (live call transcription off: {phone.transcription.removeprefix('off: ')}; calls still pop up and become tickets)")
