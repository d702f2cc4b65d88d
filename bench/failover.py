"""Redis failover: what killing the primary under load costs, with and without
HOTLINE_REDIS_MIN_REPLICAS, next to fault-free runs of the same settings, all in one run.

    .venv/bin/python bench/failover.py [--seconds 30] [--clients 8] [--only failover ...]

Each scenario starts one primary, one replica and three sentinels (real redis-server processes,
tests/support/sentinel.py: down-after 1 s) and a real `hotline run` with REDIS_SENTINELS, and
submits citizen forms from `--clients` concurrent clients for `--seconds`. In the failover
scenarios the primary is SIGKILLed a third of the way in; once the sentinels have promoted the
replica, the killed server is started again on its append-only file (as its supervisor would)
and the sentinels make it the new replica. Afterwards every acknowledged ticket is looked up on the primary of the moment.

It prints, per scenario: acknowledged (2xx), lost (acknowledged, not on the primary afterwards),
refused (503 store_unavailable / replication_timeout, client errors), seconds without a primary
(kill until every sentinel names the new one), seconds until /readyz was green again,
and acknowledged requests as a ratio to the fault-free run with the same min-replicas setting.

Scenarios:
  baseline        min-replicas 0, no fault
  baseline-min1   min-replicas 1, no fault
  failover        min-replicas 0, primary SIGKILLed
  failover-min1   min-replicas 1, primary SIGKILLed
"""
from __future__ import annotations

import argparse
import asyncio
import json
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

from gateway import keys  # noqa: E402
from tests.support.processes import Gateway  # noqa: E402
from tests.support.sentinel import ReplicatedRedis, sentinel_binary  # noqa: E402

SCENARIOS = {"baseline": (0, False), "baseline-min1": (1, False), "failover": (0, True), "failover-min1": (1, True)}
BASELINE_OF = {"baseline": "baseline", "failover": "baseline", "baseline-min1": "baseline-min1", "failover-min1": "baseline-min1"}


@dataclass
class Outcome:
    name: str
    acked: dict[str, str] = field(default_factory=dict)  # idempotency key -> ticket id
    refused: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    no_primary_s: float | None = None
    unready_s: float | None = None


class Load:
    def __init__(self, base: str, clients: int, outcome: Outcome) -> None:
        self.base, self.clients, self.outcome = base, clients, outcome
        self.stop = asyncio.Event()

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            await asyncio.gather(*(self._client(http) for _ in range(self.clients)))

    def _refused(self, why: str) -> None:
        self.outcome.refused[why] = self.outcome.refused.get(why, 0) + 1

    async def _client(self, http: aiohttp.ClientSession) -> None:
        while not self.stop.is_set():
            key = uuid.uuid4().hex
            try:
                async with http.post(f"{self.base}/api/v1/requests", headers={"Idempotency-Key": key},
                                     json={"description": f"故障切换基准测试诉求 {key}", "phone": "13700001234"}) as r:
                    body = await r.json(content_type=None)
                    if r.status in (200, 201):
                        self.outcome.acked[key] = body["ticket_id"]
                        continue
                    self._refused(body.get("error", str(r.status)) if isinstance(body, dict) else str(r.status))
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self._refused(type(exc).__name__)
            await asyncio.sleep(0.05)  # a refused client comes back shortly, as a browser would


async def _until(probe: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.05) -> float:
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
    async with http.get(f"{base}/readyz", timeout=aiohttp.ClientTimeout(total=3)) as r:
        return r.status == 200


async def scenario(name: str, seconds: float, clients: int, root: Path, binary: str) -> Outcome:
    min_replicas, kill = SCENARIOS[name]
    outcome = Outcome(name)
    rig = ReplicatedRedis(root / "redis", binary).start()
    gateway = Gateway(None, root / "gw", REDIS_SENTINELS=rig.sentinel_list, HOTLINE_REDIS_MIN_REPLICAS=str(min_replicas),
                      HOTLINE_VIDEO="0", HOTLINE_LOG_LEVEL="WARNING")
    try:
        await _until(lambda: asyncio.to_thread(rig.settled), 60)
        gateway.start(timeout=90)
        async with aiohttp.ClientSession() as http:
            await _until(lambda: _ready(http, gateway.base), 90)
            load = Load(gateway.base, clients, outcome)
            started = time.monotonic()
            load_task = asyncio.create_task(load.run())
            if kill:
                await asyncio.sleep(seconds / 3)  # the load before the fault is part of the scenario
                killed = time.monotonic()
                rig.primary.kill()
                await _until(lambda: asyncio.to_thread(lambda: rig.named_primary() == rig.replica.port), 120)
                outcome.no_primary_s = time.monotonic() - killed
                await asyncio.to_thread(rig.primary.start)
                await _until(lambda: _ready(http, gateway.base), 180)
                outcome.unready_s = time.monotonic() - killed
            await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
            load.stop.set()
            await load_task
        outcome.lost = await asyncio.to_thread(_missing, rig, list(outcome.acked.values()))
    finally:
        gateway.stop()
        rig.stop()
    return outcome


def _missing(rig: ReplicatedRedis, ticket_ids: list[str]) -> int:
    primary = rig.named_primary()
    if primary is None:
        raise RuntimeError("the sentinels disagree on the primary")
    node = rig.replica if primary == rig.replica.port else rig.primary
    pipe = node.client().pipeline(transaction=False)
    for ticket_id in ticket_ids:
        pipe.exists(keys.ticket(ticket_id))
    return sum(1 for found in pipe.execute() if not found)


def _row(o: Outcome, base: Outcome) -> dict[str, object]:
    ratio = len(o.acked) / len(base.acked) if base.acked else float("nan")
    return {"scenario": o.name, "acked": len(o.acked), "lost": o.lost, "refused": dict(sorted(o.refused.items())),
            "no_primary_s": None if o.no_primary_s is None else round(o.no_primary_s, 1),
            "ready_again_s": None if o.unready_s is None else round(o.unready_s, 1),
            "acked_ratio": round(ratio, 2), "ratio_to": base.name}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--only", nargs="*", default=None, help="failover and/or failover-min1 (their baselines run too)")
    args = parser.parse_args()
    binary = sentinel_binary()
    if binary is None:
        print("no redis-server binary here can run a sentinel", file=sys.stderr)
        return 2
    names = list(SCENARIOS)
    if args.only:
        names = [n for n in names if n in args.only or n in {BASELINE_OF[m] for m in args.only}]
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="hotline-failover-") as tmp:
        for name in names:
            outcomes[name] = asyncio.run(scenario(name, args.seconds, args.clients, Path(tmp) / name, binary))
            print(json.dumps(_row(outcomes[name], outcomes[BASELINE_OF[name]]), ensure_ascii=False), flush=True)
    print()
    print(f"{'scenario':<14} {'acked':>6} {'lost':>5} {'refused':>8} {'no_primary_s':>12} {'ready_s':>8} {'acked/base':>10}")
    for o in outcomes.values():
        r = _row(o, outcomes[BASELINE_OF[o.name]])
        print(f"{o.name:<14} {r['acked']:>6} {o.lost:>5} {sum(o.refused.values()):>8} "
              f"{r['no_primary_s'] if r['no_primary_s'] is not None else '-':>12} "
              f"{r['ready_again_s'] if r['ready_again_s'] is not None else '-':>8} {r['acked_ratio']:>10}")
    return 1 if any(o.lost for o in outcomes.values() if SCENARIOS[o.name][0] > 0) else 0


if __name__ == "__main__":
    sys.exit(main())
