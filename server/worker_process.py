"""The delivery worker as its own process: `hotline worker`, started and supervised by
`hotline run` as `python -m server.worker_process` (or run on its own to scale deliveries out)."""
from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence

from aiohttp import web

from gateway.metrics import Metrics
from gateway.redis_client import RedisAddress
from gateway.redis_faults import pause
from gateway.settings import Settings
from gateway.tickets import Tickets
from knowledge_base.live import LiveKnowledge
from server.delivery import build_outbox, run_delivery

PARENT_ENV = "HOTLINE_PARENT_PID"
log = logging.getLogger(__name__)

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


async def run_worker(settings: Settings, address: RedisAddress) -> None:
    redis = address.client(max_connections=64, health_check_interval=30)
    outbox = build_outbox(settings, redis, Tickets(redis), Metrics())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    supervised = bool(os.environ.get(PARENT_ENV))
    for sig in (signal.SIGTERM,) if supervised else (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    knowledge = LiveKnowledge(redis)
    # Deliveries start at once; the knowledge index (seconds to build) loads beside them. The
    # router waits for it only for the entries the bot has to assess (Router._route).
    knowledge_task = asyncio.create_task(knowledge.run(stop), name="knowledge")  # retries through outages itself
    try:
        await run_delivery(outbox, knowledge, settings, stop)
    finally:
        knowledge_task.cancel()
        await redis.aclose()


WORKER_COMMAND = (sys.executable, "-m", "server.worker_process")


class WorkerSupervisor:
    """Keeps one delivery worker process alive beside the web process; restarts it with
    backoff if it dies (0.5 s doubling to 30 s, back to 0.5 s once a worker has run for
    `healthy_after` seconds), stops it on shutdown."""

    def __init__(self, env: Mapping[str, str], command: Sequence[str] | None = None, healthy_after: float = 60.0,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0) -> None:
        self.env = {**env, PARENT_ENV: str(os.getpid())}
        self.command = list(command or WORKER_COMMAND)
        self.healthy_after = healthy_after
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.delays: list[float] = []  # the last 100 restart delays (for operators and tests)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def run(self, stop: asyncio.Event) -> None:
        backoff = self.backoff_initial
        while not stop.is_set():
            started = time.monotonic()
            self.process = await asyncio.create_subprocess_exec(
                *self.command, env=self.env, stdin=asyncio.subprocess.DEVNULL,
                # Its own session: a Ctrl-C in the terminal reaches only the gateway, which stops
                # the worker with SIGTERM after its own clean shutdown (a SIGINT could come while
                # the worker's interpreter starts, before any handler of ours; uvloop's spawn
                # resets an ignored SIGINT). A gateway that dies takes it along (PR_SET_PDEATHSIG).
                start_new_session=True,
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
            ran = time.monotonic() - started
            if ran >= self.healthy_after:
                backoff = self.backoff_initial  # it was healthy: this is a new failure, not a crash loop
            self.delays.append(backoff)
            del self.delays[:-100]
            log.error("delivery worker exited; restarting", extra={
                "returncode": self.process.returncode, "ran_s": round(ran, 1), "delay_s": backoff})
            await pause(stop, backoff)
            backoff = min(backoff * 2, self.backoff_max)

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


WORKER_SUPERVISOR: web.AppKey[WorkerSupervisor | None] = web.AppKey("worker_supervisor")
"""The supervised delivery worker of `HOTLINE_WORKERS=process`, else None."""


def _forget_metrics_of(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def main(settings: Settings, address: RedisAddress) -> int:
    die_with_parent()
    asyncio.run(run_worker(settings, address))
    return 0


def run_from_env() -> int:
    """Router and outbox only (no HTTP), configured from the environment: what `hotline run`
    supervises (`python -m server.worker_process`) and what `hotline worker` runs."""
    from server.process import run_process

    return run_process(main)


if __name__ == "__main__":
    sys.exit(run_from_env())
