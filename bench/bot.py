"""Decision latency and index rebuild cost on a 5,000-entry knowledge base.

    .venv/bin/python bench/bot.py [--entries 5000] [--queries 3000]

The large knowledge base is generated from the sample entries (each varied with district names
and wording), so its vocabulary looks like the real one. Baseline, measured in the same run:
the same queries against the sample knowledge base as shipped (~160 entries). Target: p99 of a
decision <= 5 ms on 5,000 entries.
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import percentile  # noqa: E402
from gateway import clock  # noqa: E402
from gateway.geography import districts  # noqa: E402
from knowledge_base.snapshot import KnowledgeSnapshot  # noqa: E402
from knowledge_base.text import clear_index_tokens  # noqa: E402
from triage import batch  # noqa: E402
from triage.decision import Conversation, decide  # noqa: E402
from triage.evaluation import DEFAULT_SET, load_items, starter_snapshot  # noqa: E402

VARIANTS = ["{d}", "{d}居民", "在{d}", "{d}范围内", "{d}户籍人员", "{d}的单位职工"]


def generate(base: KnowledgeSnapshot, count: int, seed: int = 7) -> list:
    rng = random.Random(seed)
    names = list(districts())
    sources = list(base.entries.values())
    out = []
    for i in range(count):
        src = sources[i % len(sources)]
        place = rng.choice(VARIANTS).format(d=rng.choice(names))
        out.append(src.model_copy(update={
            "entry_id": f"{src.entry_id}-g{i:05d}",
            "title": f"{place}{src.title}",
            "phrasings": [f"{place}{p}" if rng.random() < 0.5 else f"{p}（{place}）" for p in src.phrasings],
        }))
    return out


def latencies(kb: KnowledgeSnapshot, queries: list[str]) -> list[float]:
    """Cold decisions (citizens' texts are never cached)."""
    now = clock.now()
    out = []
    for text in queries:
        started = time.perf_counter()
        decide(text, Conversation(), "web", kb, now)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=3000)
    args = parser.parse_args()

    base = starter_snapshot()
    queries = [str(i["text"]) for i in load_items(DEFAULT_SET)] if DEFAULT_SET.exists() else []
    queries += [p for v in base.entries.values() for p in v.phrasings]
    rng = random.Random(1)
    queries = [rng.choice(queries) for _ in range(args.queries)]
    synonyms = [list(g) for g in base.synonyms.groups]

    versions = generate(base, args.entries)
    clear_index_tokens()
    started = time.perf_counter()
    large = KnowledgeSnapshot.build(2, versions, synonyms)
    build_seconds = time.perf_counter() - started
    # What a publish costs: one entry changed, the other phrasings' tokens are cached.
    versions[0] = versions[0].model_copy(update={"answer": versions[0].answer + "（已更新）", "version": 2})
    started = time.perf_counter()
    large = KnowledgeSnapshot.build(3, versions, synonyms)
    publish_seconds = time.perf_counter() - started
    clear_index_tokens()
    gc.collect()
    tracemalloc.start()
    KnowledgeSnapshot.build(4, versions, synonyms)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    clear_index_tokens()
    started = time.perf_counter()
    KnowledgeSnapshot.build(1, list(base.entries.values()), synonyms)
    base_build_seconds = time.perf_counter() - started

    latencies(base, queries[:300])  # warm caches (jieba, normalisation) for both
    small = latencies(base, queries)
    big = latencies(large, queries)

    print(f"bot benchmark: {len(queries)} decisions; sample KB {len(base.entries)} entries vs generated KB {len(large.entries)} entries "
          f"({len(large.doc_entry)} phrasings)")
    print(f"{'':22}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    for name, values in ((f"{len(base.entries)} entries (baseline)", small), (f"{len(large.entries)} entries", big)):
        print(f"{name:22}{percentile(values, 50):>9.3f}{percentile(values, 99):>9.3f}{statistics.mean(values):>9.3f}")
    print(f"ratio p99 large/baseline: {percentile(big, 99) / percentile(small, 99):.2f}   target p99 <= 5 ms: {'met' if percentile(big, 99) <= 5 else 'NOT met'}")
    print(f"index build from scratch: {build_seconds:.2f} s for {len(large.entries)} entries (baseline {len(base.entries)} entries: "
          f"{base_build_seconds:.3f} s, ratio {build_seconds / max(base_build_seconds, 1e-9):.1f})")
    print(f"rebuild after one publish (tokens cached): {publish_seconds:.2f} s; peak Python memory of a cold build {peak / 2**20:.1f} MiB")
    triage_throughput(base, queries[:1000])


def triage_throughput(kb: KnowledgeSnapshot, texts: list[str]) -> None:
    """`hotline triage` on 1,000 messages (its interface's own promise: well under a minute),
    against the decisions alone on the same messages as the baseline."""
    lines = "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts))
    started = time.perf_counter()
    batch.run(kb, "web", io.StringIO(lines), io.StringIO())
    whole = time.perf_counter() - started
    decided = sum(latencies(kb, texts)) / 1000
    print(f"hotline triage: {len(texts)} messages in {whole:.2f} s ({whole / len(texts) * 1000:.2f} ms each; "
          f"decisions alone {decided:.2f} s, ratio {whole / max(decided, 1e-9):.2f})   target well under 60 s: "
          f"{'met' if whole < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
