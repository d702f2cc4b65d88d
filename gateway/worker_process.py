"""The delivery worker as its own process: `hotline worker`, started and supervised by
`hotline run` (or run on its own to scale deliveries out)."""
from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Mapping

from redis.asyncio import Redis

from gateway.delivery import build_outbox, run_delivery
from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.tickets import Tickets
from knowledge_base.live import LiveKnowledge

log = logging.getLogger(__name__)

PARENT_ENV = "HOTLINE_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A supervised worker must not outlive its gateway: ask Linux for SIGTERM when the parent
    dies (even by SIGKILL), and leave at once if it is already gone."""
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the parent's supervisor still stops us on a clean exit
    if os.getppid() != int(parent):
        sys.exit(0)


async def run_worker(settings: Settings, redis_url: str) -> None:
    redis = Redis.from_url(redis_url, max_connections=64, health_check_interval=30)
    outbox = build_outbox(settings, redis, Tickets(redis), Metrics())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    knowledge = LiveKnowledge(redis)
    await knowledge.refresh()
    knowledge_task = asyncio.create_task(knowledge.run(stop))
    try:
        await run_delivery(outbox, knowledge, settings, stop)
    finally:
        knowledge_task.cancel()
        await redis.aclose()


class WorkerSupervisor:
    """Keeps one delivery worker process alive beside the web process; restarts it with
    backoff if it dies, stops it on shutdown."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = {**env, PARENT_ENV: str(os.getpid())}
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.cli", "worker", env=self.env, stdin=asyncio.subprocess.DEVNULL,
            )
            waiter = asyncio.ensure_future(self.process.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if stop.is_set():
                waiter.cancel()
                break
            _forget_metrics_of(self.process.pid)
            self.restarts += 1
            log.error("delivery worker exited; restarting", extra={"returncode": self.process.returncode, "delay_s": backoff})
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def shutdown(self) -> None:
        if not self.running:
            return
        assert self.process is not None
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=15)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()
        _forget_metrics_of(self.process.pid)


def _forget_metrics_of(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def main(settings: Settings, redis_url: str) -> int:
    die_with_parent()
    asyncio.run(run_worker(settings, redis_url))
    return 0
