"""The delivery side of a gateway: router, outbox and retry releaser. They run either inside
the web process (`HOTLINE_WORKERS=inline`, used by tests and tiny setups) or in a supervised
child process (`process`, the default of `hotline run`), so deliveries never take CPU from the
event loop that answers citizens. `off` runs none here (scale them out with `hotline worker`)."""
from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from gateway.delivery_targets import CaseSystemRelatedTarget, CaseSystemTarget, DeliveryTarget, LocalInboxTarget, LocalRelatedTarget
from gateway.merges import RELATED_HOP
from gateway.metrics import Metrics
from gateway.outbox import CASE_HOP, Outbox
from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, pause
from gateway.settings import Settings
from gateway.tickets import Tickets
from knowledge_base.live import LiveKnowledge
from server.registry import channels
from triage.catalogue_store import CatalogueStore
from triage.classify import warm as warm_triage
from triage.hotspots import HotspotRules
from triage.router import Router

log = logging.getLogger(__name__)


def build_outbox(settings: Settings, redis: Redis, tickets: Tickets, metrics: Metrics) -> Outbox:
    target: DeliveryTarget
    related: DeliveryTarget
    if settings.case_system_url:
        target = CaseSystemTarget(settings.case_system_url, settings.case_system_secret, settings.case_system_timeout_seconds)
        related = CaseSystemRelatedTarget(redis, settings.case_system_url, settings.case_system_secret, settings.case_system_timeout_seconds)
    else:
        target, related = LocalInboxTarget(redis), LocalRelatedTarget(redis)
    targets: dict[str, DeliveryTarget] = {CASE_HOP: target, RELATED_HOP: related}
    for channel in channels():
        for hop, hop_target in (channel.outbound(settings, redis) if channel.outbound is not None else {}).items():
            if hop in targets:
                raise ValueError(f"channel {channel.name} delivers hop {hop!r}, which another part already delivers")
            targets[hop] = hop_target
    return Outbox(
        redis, tickets, targets, metrics, settings.instance_id,
        retry_horizon=settings.outbox_retry_horizon_seconds, backoff_base=settings.outbox_backoff_base_seconds,
        backoff_cap=settings.outbox_backoff_cap_seconds, claim_idle=settings.outbox_claim_idle_seconds,
        concurrency=settings.outbox_concurrency,
    )


async def run_delivery(outbox: Outbox, knowledge: LiveKnowledge, settings: Settings, stop: asyncio.Event) -> None:
    """Run router, outbox and retry releaser until `stop` is set, then close the targets."""
    warming = asyncio.create_task(asyncio.to_thread(warm_triage), name="triage-warm-up")  # the router waits for it, deliveries don't
    router = Router(outbox, outbox.tickets, knowledge, settings.instance_id, settings.outbox_claim_idle_seconds,
                    HotspotRules.of(settings), warming)
    await outbox.worker.ensure_group()
    await router.worker.ensure_group()
    log.info("delivery started", extra={"instance": settings.instance_id, "case_target": outbox.targets[CASE_HOP].name})
    tasks = [
        asyncio.create_task(router.worker.run(stop), name="router"),
        asyncio.create_task(outbox.worker.run(stop), name="outbox"),
        asyncio.create_task(_release_retries(outbox, stop), name="outbox-retries"),
        asyncio.create_task(CatalogueStore(outbox.redis).follow(stop), name="dispatch-catalogue"),
    ]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for target in outbox.targets.values():
            await target.close()


async def _release_retries(outbox: Outbox, stop: asyncio.Event) -> None:
    outage = OutageLog(log, "outbox retry releaser")
    while not stop.is_set():
        try:
            await outbox.release_due_retries()
            outage.ok()
        except REDIS_UNREACHABLE as exc:
            outage.failed(exc)
        except Exception:
            log.exception("releasing due retries failed")
        await pause(stop, 0.25)
