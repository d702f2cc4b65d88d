"""The bot evaluation set through both engines in one run: the embedded decision engine and a
real Rasa server (REST channel → NLU → dialogue → our custom actions at an action endpoint in
this process, over the same sample knowledge base).

    .venv/bin/python bench/nlu_compare.py [--file tests/data/bot_eval.yaml] [--rounds 1]

Prints precision and recall per decision, top-1 answer accuracy and latency p50/p99 for each
engine, and Rasa's figures as a ratio to the embedded engine's (the baseline). Needs Rasa's
venv (`hotline rasa setup`); the model is trained first if the cached one is stale.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web  # noqa: E402

from bench.stats import percentile  # noqa: E402
from bot.rasa import actions as rasa_actions  # noqa: E402
from bot.rasa import model as rasa_model  # noqa: E402
from bot.rasa import venv as rasa_venv  # noqa: E402
from bot.rasa.client import RasaClient, RasaUnavailable  # noqa: E402
from bot.rasa.server import RasaServer  # noqa: E402
from gateway import clock  # noqa: E402
from triage.decision import Conversation, Decision, decide, emergency_check  # noqa: E402
from triage.evaluation import DECISIONS, DEFAULT_SET, Report, load_items, starter_snapshot  # noqa: E402

TOKEN = "bench-action-token"


def score(items: list[dict[str, Any]], decisions: list[Decision]) -> Report:
    """The same scoring as `hotline bot eval`, over decisions made elsewhere."""
    report = Report()
    for item, decision in zip(items, decisions):
        want = item["expect"]
        report.total += 1
        report.confusion[(want, decision.type)] += 1
        if want == "answer":
            report.answer_items += 1
            report.answer_top1 += int(decision.type == "answer" and decision.entry_id == item.get("entry"))
        elif want == "emergency":
            report.emergency_items += 1
            report.emergency_right_line += int(decision.type == "emergency" and decision.line == str(item.get("line")))
        elif want == "forward" and "kind" in item:
            report.forward_items += 1
            report.forward_right_kind += int(decision.type == "forward" and decision.kind == item["kind"])
    return report


async def run_engine(items: list[dict[str, Any]], rounds: int,
                     one: Callable[[int, str], Awaitable[Decision]]) -> tuple[list[Decision], list[float]]:
    decisions: list[Decision] = []
    latencies: list[float] = []
    for r in range(rounds):
        for i, item in enumerate(items):
            started = time.perf_counter()
            decision = await one(r * len(items) + i, str(item["text"]))
            latencies.append((time.perf_counter() - started) * 1000)
            if r == 0:
                decisions.append(decision)
    return decisions, latencies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(value: float | None) -> str:
    return "    -" if value is None else f"{value * 100:5.1f}%"


def render(embedded: Report, rasa: Report, guarded: Report, emb_ms: list[float], rasa_ms: list[float], failures: int) -> str:
    lines = [f"bot evaluation set: {embedded.total} utterances", "",
             f"{'decision':15}{'support':>8}   {'embedded P':>10}{'R':>8}   {'rasa P':>8}{'R':>8}"]
    for d in DECISIONS:
        support = sum(n for (want, _), n in embedded.confusion.items() if want == d)
        lines.append(f"{d:15}{support:>8}   {pct(embedded.precision(d)):>10}{pct(embedded.recall(d)):>8}   "
                     f"{pct(rasa.precision(d)):>8}{pct(rasa.recall(d)):>8}")
    def accuracy(r: Report) -> float:
        return sum(n for (want, got), n in r.confusion.items() if want == got) / r.total
    lines += ["",
              f"decision accuracy       embedded {pct(accuracy(embedded))}   rasa {pct(accuracy(rasa))}   "
              f"ratio {accuracy(rasa) / accuracy(embedded):.2f}",
              f"top-1 answer accuracy   embedded {pct(embedded.top1_accuracy)}   rasa {pct(rasa.top1_accuracy)}",
              f"emergency line right    embedded {embedded.emergency_right_line}/{embedded.emergency_items}"
              f"   rasa {rasa.emergency_right_line}/{rasa.emergency_items}",
              f"forward kind right      embedded {embedded.forward_right_kind}/{embedded.forward_items}"
              f"   rasa {rasa.forward_right_kind}/{rasa.forward_items}",
              f"rasa + emergency guard (the gateway's default): decision accuracy {pct(accuracy(guarded))}, "
              f"emergency recall {pct(guarded.recall('emergency'))}, top-1 answer {pct(guarded.top1_accuracy)}",
              ""]
    e50, e99, r50, r99 = (percentile(emb_ms, 50), percentile(emb_ms, 99), percentile(rasa_ms, 50), percentile(rasa_ms, 99))
    lines += [f"latency embedded (in-process decide)        p50 {e50:7.2f} ms   p99 {e99:7.2f} ms   ({len(emb_ms)} decisions)",
              f"latency rasa (REST → NLU → rules → action)  p50 {r50:7.2f} ms   p99 {r99:7.2f} ms   ({len(rasa_ms)} decisions)",
              f"ratio rasa / embedded                       p50 {r50 / e50:7.1f} ×    p99 {r99 / e99:7.1f} ×"]
    if failures:
        lines.append(f"rasa gave no decision {failures} times (counted as clarify)")
    return "\n".join(lines)


async def main(path: Path, rounds: int) -> int:
    if not rasa_venv.is_complete():
        print(f"Rasa's virtualenv is missing under {rasa_venv.rasa_home()}: run `hotline rasa setup`", file=sys.stderr)
        return 2
    items = load_items(path)
    kb = starter_snapshot()
    now = clock.now()
    model = await asyncio.to_thread(rasa_model.train)

    # The action endpoint, over the same snapshot the embedded engine uses.
    app = web.Application()
    app.router.add_post(rasa_actions.PATH, rasa_actions.handler(lambda: kb, TOKEN))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    log = Path(tempfile.gettempdir()) / f"nlu_compare-rasa-{os.getpid()}.log"
    server = RasaServer(model, free_port(), f"http://127.0.0.1:{port}{rasa_actions.PATH}", TOKEN, log=log).start()
    client = RasaClient(server.url, timeout=30.0)
    failures = 0
    try:
        await asyncio.to_thread(server.wait_ready)

        async def embedded(_: int, text: str) -> Decision:
            return decide(text, Conversation(), "web", kb, now)

        async def rasa(n: int, text: str) -> Decision:
            nonlocal failures
            try:
                return await client.decide(f"bench-{n}", text)  # a fresh conversation per utterance
            except RasaUnavailable as exc:
                failures += 1
                return Decision("clarify", "", [exc.code])

        emb_decisions, emb_ms = await run_engine(items, rounds, embedded)
        rasa_decisions, rasa_ms = await run_engine(items, rounds, rasa)
    finally:
        await client.close()
        await asyncio.to_thread(server.stop)
        await runner.cleanup()
    # What the gateway does with HOTLINE_RASA_EMERGENCY_GUARD=1: the lexicon's emergency cues first.
    guarded = [emergency_check(str(item["text"]), now) or d for item, d in zip(items, rasa_decisions)]
    print(render(score(items, emb_decisions), score(items, rasa_decisions), score(items, guarded), emb_ms, rasa_ms, failures))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_SET)
    parser.add_argument("--rounds", type=int, default=1, help="pass the set this many times (latency only)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.file, args.rounds)))
