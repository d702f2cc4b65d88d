"""Duplicate detection on a generated set with known duplicates: precision, recall and the time
from intake to the router's decision (held as 疑似重复, or routed on).

    .venv/bin/python bench/duplicates.py [--bases 150] [--seed 7]

The gateway runs in this process (router and outbox inline, the local inbox as case system) on an
embedded Redis, or on REDIS_URL's database when set (it is flushed). Requests go in through the
portal API. The set, from triage's training corpus:
- bases: one request per citizen, each at a district;
- duplicates (known): the same citizen filing again with small edits, or a neighbour at the same
  district writing nearly the same words;
- hard negatives: the same citizen with another matter, and another citizen in the same district
  with another request of the same topic.
A duplicate counts as found when its candidates include its base; any other candidate list is a
false positive. Targets: precision >= 95 %, recall >= 90 %.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from gateway.embedded_redis import EmbeddedRedis  # noqa: E402
from gateway.geography import districts  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.tickets import Tickets  # noqa: E402
from server.app import create_app  # noqa: E402
from server.registry import channels  # noqa: E402
from tests.support.processes import free_port  # noqa: E402

SUFFIXES = ["请尽快处理。", "麻烦相关部门尽快解决！", "已经反映过一次了，还是没人管。", "希望尽快给个答复。"]
PREFIXES = ["再次反映：", "你好，", "您好，我想反映一下，"]


def edited(text: str, rng: random.Random) -> str:
    """The same request written again: a greeting, a closing line, a dropped or doubled word."""
    out = text
    if rng.random() < 0.5:
        out = rng.choice(PREFIXES) + out
    if rng.random() < 0.7:
        out = out.rstrip("。！!") + "，" + rng.choice(SUFFIXES)
    if rng.random() < 0.3 and len(out) > 12:
        cut = rng.randrange(4, len(out) - 4)
        out = out[:cut] + out[cut + 1:]
    return out if out != text else text + "谢谢。"


def generate(bases: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = [json.loads(line) for line in (ROOT / "triage/data/corpus/train.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r["kind"] != "consultation" and len(r["text"]) >= 15]
    rng.shuffle(rows)
    names = sorted(districts())
    picked, spare = rows[:bases], rows[bases:]
    by_topic: dict[str, list[dict]] = {}
    for r in spare:
        by_topic.setdefault(r["category"], []).append(r)
    items = []
    for n, r in enumerate(picked):
        items.append({"key": f"b{n}", "text": r["text"], "phone": f"139{n:08d}", "district": rng.choice(names), "base": None, "topic": r["category"]})
    extra = []
    for n, base in enumerate(rng.sample(items, bases * 2 // 5)):
        same_person = n % 2 == 0
        phone = base["phone"] if same_person else f"137{n:08d}"
        extra.append({"key": f"d{n}", "text": edited(base["text"], rng), "phone": phone, "district": base["district"], "base": base["key"]})
    for n, base in enumerate(rng.sample(items, bases * 2 // 5)):
        if n % 2 == 0:  # the same citizen, another matter
            other = spare[n]
            extra.append({"key": f"n{n}", "text": other["text"], "phone": base["phone"], "district": rng.choice(names), "base": None})
        else:  # a neighbour, another request of the same topic
            pool = by_topic.get(base["topic"]) or spare
            extra.append({"key": f"n{n}", "text": rng.choice(pool)["text"], "phone": f"136{n:08d}", "district": base["district"], "base": None})
    rng.shuffle(extra)
    return items + extra


async def run(args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="bench-dup-"))
    embedded = None
    url = os.environ.get("REDIS_URL")
    if url is None:
        embedded = EmbeddedRedis(data / "redis").start()
        url = embedded.url
    redis = Redis.from_url(url)
    await redis.flushdb()
    settings = Settings(sections=tuple(c.settings() for c in channels() if c.settings)).with_values(
        data_dir=data, redis_url=url, workers="inline", kb_seed=False, phone=False, video=False,
        rate_limit_ip_per_hour=1_000_000, rate_limit_phone_per_day=1_000_000)
    runner = web.AppRunner(create_app(settings, url))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base_url = f"http://127.0.0.1:{port}"
    items = generate(args.bases, args.seed)
    ids: dict[str, str] = {}
    try:
        async with aiohttp.ClientSession() as http:
            async def submit(item: dict) -> None:
                body = {"kind": "unsure", "description": item["text"], "phone": item["phone"], "district": item["district"]}
                async with http.post(f"{base_url}/api/v1/requests", json=body) as resp:
                    assert resp.status == 201, await resp.text()
                    ids[item["key"]] = (await resp.json())["ticket_id"]

            bases = [i for i in items if i["key"].startswith("b")]
            rest = [i for i in items if not i["key"].startswith("b")]
            for group in (bases, rest):  # the bases come first, as the originals do
                for start in range(0, len(group), 8):
                    await asyncio.gather(*(submit(i) for i in group[start:start + 8]))
            tickets = Tickets(redis)
            decided: dict[str, object] = {}
            for _ in range(1200):
                for key, ticket_id in ids.items():
                    if key not in decided:
                        t = await tickets.get(ticket_id)
                        if any(e.event in ("routed", "held_as_duplicate", "held_for_transfer") for e in t.history):
                            decided[key] = t
                if len(decided) == len(ids):
                    break
                await asyncio.sleep(0.1)
    finally:
        await runner.cleanup()
        await redis.aclose()
        if embedded:
            embedded.stop()

    tp = fp = fn = 0
    waits = []
    for item in items:
        t = decided.get(item["key"])
        if t is None:
            fn += item["base"] is not None
            continue
        event = next(e for e in t.history if e.event in ("routed", "held_as_duplicate", "held_for_transfer"))
        waits.append((event.at - t.received_at).total_seconds())
        found = [c.ticket_id for c in t.links.duplicates]
        truth = ids.get(item["base"]) if item["base"] else None
        if truth and truth in found:
            tp += 1
        elif found:
            fp += 1
            fn += truth is not None
        elif truth:
            fn += 1
    dups = sum(1 for i in items if i["base"])
    print(f"requests {len(items)}, known duplicates {dups}, decided {len(decided)}")
    print(f"precision {tp / max(tp + fp, 1):.3f}  ({tp} of {tp + fp} flagged)")
    print(f"recall    {tp / max(dups, 1):.3f}  ({tp} of {dups} duplicates)")
    waits.sort()
    print(f"intake -> decision: p50 {statistics.median(waits):.3f} s, p95 {waits[int(len(waits) * 0.95) - 1]:.3f} s, max {waits[-1]:.3f} s (target: within 60 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bases", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
