"""The supervisor wall at scale: with a city's history in Redis (1,000,000 tickets by default),
how long the wall's data takes to read, and what keeping its counters costs intake.

    .venv/bin/python bench/wall.py [--tickets 1000000] [--days 92] [--seconds 5]

Runs on an embedded Redis (its own, flushed), or on REDIS_URL's database when set (flushed too).
1. History: `--tickets` synthetic tickets over `--days` days (channel, kind, topic, district, unit,
   outcome and 回访 drawn from plausible shares); what each adds to the counters and watch lists
   is computed by the product's own functions (gateway/derived.py), summed and written. Every
   ticket still open gets its document (the deadline tables read them); the others need none,
   since the wall never reads them.
2. The wall (server/wall.py, as the route runs it): first load of today, 7 days and 92 days;
   then a ticket is updated (`Tickets.update`, counters moved in the same step) and the wall of
   today read again: that is one update's server-side cost. Targets: first load <= 1 s, update
   <= 50 ms.
3. Intake with the counters and watch lists (as the product runs) and without them (the same
   script given no derived changes), alternating in the same run, 64 concurrent submissions.
   Target: with/without >= 0.9.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redis.asyncio import Redis  # noqa: E402

from gateway import derived, intake, keys, rates  # noqa: E402
from gateway.clock import BEIJING  # noqa: E402
from gateway.deadlines import due_at  # noqa: E402
from gateway.embedded_redis import EmbeddedRedis  # noqa: E402
from gateway.geography import districts  # noqa: E402
from gateway.intake import Intake  # noqa: E402
from gateway.ticket import (  # noqa: E402
    PENDING_ID,
    Answered,
    Dispatch,
    Diverted,
    FollowUp,
    Forwarded,
    HandlingUnit,
    HistoryEvent,
    Location,
    Requester,
    Source,
    Ticket,
    Transferred,
)
from gateway.tickets import Tickets  # noqa: E402
from server import wall  # noqa: E402

CHANNELS = [("phone", 55), ("web", 20), ("wechat", 20), ("video", 1), ("partner", 4)]
KINDS = [("consultation", 35), ("help", 20), ("complaint", 25), ("report", 15), ("suggestion", 5)]
TOPICS = ["水电气热", "住房与物业", "交通管理", "市容环卫", "噪声污染", "劳动和社会保障", "教育", "医疗卫生", "规划与市政设施", "商业服务",
          "户籍与证件", "养老服务", "施工管理", "公共安全", "文化体育", "农业农村", "生态环境", "市场监管", "城乡建设", "其他"]
OUTCOMES = [("answer", 30), ("forward", 60), ("transfer", 2), ("divert", 3), ("open", 5)]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def synthetic(rng: random.Random, n: int, now: datetime, days: int) -> Ticket:
    received = now - timedelta(seconds=rng.uniform(0, days * 86400))
    district = rng.choice(list(districts()))
    channel, kind, outcome = _pick(rng, CHANNELS), _pick(rng, KINDS), _pick(rng, OUTCOMES)
    topic = rng.choice(TOPICS)
    located = rng.random() < 0.02  # a WeChat location or a geocoded address
    ticket = Ticket(
        id=f"BW-{received:%Y%m%d}-{n:07d}", channel=channel, received_at=received, updated_at=received, kind=kind,
        due_at=due_at(received, "normal"), content="（基准测试合成诉求）" + topic, source=Source(channel_id=uuid.uuid4().hex),
        requester=Requester(phone=f"+86138{n % 10**8:08d}"),
        location=Location(district=district, district_code=districts()[district],
                          latitude=39.9 + rng.uniform(-0.3, 0.3) if located else None,
                          longitude=116.4 + rng.uniform(-0.4, 0.4) if located else None),
        dispatch=Dispatch(category_l1="城乡建设", category=topic, unit=HandlingUnit(name=f"{district}{topic}主管部门", type="委办局", confidence=0.8)),
    )
    at = received + timedelta(minutes=rng.uniform(1, 600))
    if outcome == "answer":
        ticket.status, ticket.disposition = "answered", Answered(at=at, kb_entry_id="kb-bench", kb_version=1)
    elif outcome == "forward":
        ticket.status, ticket.disposition = "forwarded", Forwarded(at=at, target="case-system", case_id=f"CASE-{n}")
    elif outcome == "transfer":
        ticket.status, ticket.disposition = "transferred", Transferred(at=at, partner="tianjin", receipt=f"TJ-{n}")
    elif outcome == "divert":
        ticket.status, ticket.disposition = "diverted", Diverted(at=at, to="110", reason="紧急情况")
    if ticket.disposition is not None and rng.random() < 0.3:
        ticket.followup = FollowUp(at=at + timedelta(hours=2), channel="phone", by="citizen", resolved=rng.random() < 0.8,
                                   satisfaction=rng.choice(["satisfied", "satisfied", "basically_satisfied", "unsatisfied"]))
    return ticket


async def load_history(redis: Redis, count: int, days: int, seed: int) -> list[Ticket]:
    """Write the counters and watch lists `count` tickets leave; returns the open ones (stored)."""
    rng = random.Random(seed)
    now = datetime.now(BEIJING)
    counters: Counter[tuple[str, str]] = Counter()
    memberships: dict[str, dict[str, float]] = {}
    open_tickets: list[Ticket] = []
    located: list[Ticket] = []  # the map reads the newest points' documents
    started = time.perf_counter()
    for n in range(count):
        ticket = synthetic(rng, n, now, days)
        counters.update(rates.contribution(ticket))
        for key, score in derived.memberships(ticket).items():
            memberships.setdefault(key, {})[ticket.id] = score
        if ticket.disposition is None:
            open_tickets.append(ticket)
        elif keys.POINTS in derived.memberships(ticket):
            located.append(ticket)
        if n and n % 200_000 == 0:
            print(f"  {n:,} tickets generated ({time.perf_counter() - started:.0f} s)", flush=True)
    by_bucket: dict[str, dict[str, int]] = {}
    for (bucket, field), value in counters.items():
        by_bucket.setdefault(bucket, {})[field] = value
    writes: list[tuple[str, Any]] = [("hset", (bucket, fields)) for bucket, fields in by_bucket.items()]
    for key, members in memberships.items():
        items = list(members.items())
        writes += [("zadd", (key, dict(items[i:i + 5_000]))) for i in range(0, len(items), 5_000)]
    writes += [("set", (keys.ticket(t.id), t.stored_json())) for t in open_tickets + located]
    for i in range(0, len(writes), 500):  # pipelines of a bounded size: a huge one times out writing
        async with redis.pipeline(transaction=False) as pipe:
            for command, (key, value) in writes[i:i + 500]:
                if command == "hset":
                    pipe.hset(key, mapping=value)
                elif command == "zadd":
                    pipe.zadd(key, value)
                else:
                    pipe.set(key, value)
            await pipe.execute()
    points = memberships.get(keys.POINTS, {})
    fields = sum(len(f) for f in by_bucket.values())
    print(f"history: {count:,} tickets over {days} days in {time.perf_counter() - started:.0f} s: {len(by_bucket):,} hourly buckets, "
          f"{fields:,} counter fields, {len(open_tickets):,} open, {len(points):,} with coordinates")
    return open_tickets


async def timed(label: str, call: Any, runs: int = 7) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    median = statistics.median(samples)
    print(f"  {label:<44} median {median:7.1f} ms   max {max(samples):7.1f} ms")
    return median


async def measure_wall(redis: Redis, open_tickets: list[Ticket]) -> tuple[float, float]:
    today = datetime.now(BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    end = today + timedelta(days=1)
    window = timedelta(hours=2)
    print("wall (server-side, server/wall.py):")
    first = await timed("first load, today", lambda: wall.snapshot(redis, today, end, window))
    await timed("first load, last 7 days", lambda: wall.snapshot(redis, today - timedelta(days=6), end, window))
    await timed("first load, last 92 days", lambda: wall.snapshot(redis, today - timedelta(days=91), end, window), runs=3)
    tickets = Tickets(redis)
    targets = iter(open_tickets)

    async def one_update() -> None:
        ticket = next(targets)
        at = datetime.now(BEIJING)

        def answer(t: Ticket) -> None:
            t.status, t.disposition = "answered", Answered(at=at, kb_entry_id="kb-bench", kb_version=1)

        await tickets.update(ticket.id, answer, HistoryEvent(at=at, actor="bench", event="answered"))
        await wall.snapshot(redis, today, end, window)

    update = await timed("one update + the wall of today again", one_update)
    return first, update


def web_ticket(n: int) -> Ticket:
    now = datetime.now(BEIJING)
    return Ticket(id=PENDING_ID, channel="web", received_at=now, updated_at=now, kind="complaint", due_at=due_at(now, "normal"),
                  content="朝阳区望京西园三区东门外的路灯坏了一个多星期，请尽快维修。", source=Source(channel_id=uuid.uuid4().hex),
                  requester=Requester(phone=f"+86139{n:08d}"), location=Location(district="朝阳区", district_code="110105"))


PRODUCT_CHANGES = derived.changes


def without_wall(before: Ticket | None, after: Ticket) -> list[str]:
    """The derived changes minus the wall's own keys (day counters, watch lists)."""
    args = PRODUCT_CHANGES(before, after)
    ops = [args[i:i + 4] for i in range(1, len(args), 4)]
    kept = [op for op in ops if not op[1].startswith(keys.P + "wall:")]
    return [str(len(kept)), *(value for op in kept for value in op)]


VARIANTS = {"all": PRODUCT_CHANGES, "without the wall's": without_wall, "none": lambda before, after: ["0"]}


async def intake_rate(redis: Redis, seconds: float, variant: str, start: int) -> float:
    """Submissions per second with 64 concurrent submitters, intake's script given the derived
    changes of `variant`: all (the product), all but the wall's, none."""
    submit = Intake(redis, "BW")
    intake.derived.changes = VARIANTS[variant]  # type: ignore[assignment]
    done = 0
    deadline = time.perf_counter() + seconds

    async def submitter(k: int) -> None:
        nonlocal done
        n = start + k * 1_000_000
        while time.perf_counter() < deadline:
            await submit(web_ticket(n))
            n += 1
            done += 1

    try:
        began = time.perf_counter()
        await asyncio.gather(*(submitter(k) for k in range(64)))
        return done / (time.perf_counter() - began)
    finally:
        intake.derived.changes = PRODUCT_CHANGES  # type: ignore[assignment]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=92)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hotline-wall-") as tmp:
        embedded = None if os.environ.get("REDIS_URL") else EmbeddedRedis(Path(tmp)).start()
        redis = Redis.from_url(os.environ.get("REDIS_URL") or embedded.url)  # type: ignore[union-attr]
        try:
            await redis.flushdb()
            open_tickets = await load_history(redis, args.tickets, args.days, args.seed)
            first, update = await measure_wall(redis, open_tickets)
            print(f"intake, 64 concurrent submitters, {args.seconds:.0f} s per round (alternating); derived changes:")
            rates_: dict[str, list[float]] = {name: [] for name in VARIANTS}
            start = 10_000_000
            for round_ in range(3):
                for name in VARIANTS:
                    start += 10_000_000
                    rates_[name].append(await intake_rate(redis, args.seconds, name, start))
                print(f"  round {round_ + 1}: " + "   ".join(f"{name} {rates_[name][-1]:6.0f}/s" for name in VARIANTS))
            wall_ratio = sum(rates_["all"]) / sum(rates_["without the wall's"])
            all_ratio = sum(rates_["all"]) / sum(rates_["none"])
            print(f"first load today {first:.1f} ms (target <= 1000); one update {update:.1f} ms (target <= 50); "
                  f"intake with/without the wall's counters {wall_ratio:.2f} (target >= 0.90); with/without any derived {all_ratio:.2f}")
        finally:
            await redis.aclose()
            if embedded is not None:
                embedded.stop()


if __name__ == "__main__":
    asyncio.run(main())
