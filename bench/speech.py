"""Phone channel speed: live transcription capacity, partial and screen-pop latency, and the
speech nodes' CPU per leg against a bare Vosk loop, all in one run.

    .venv/bin/python bench/speech.py [--legs 1,2,4,...] [--leg-seconds 20] [--pops 200]
    .venv/bin/python bench/speech.py --nodes 1,2     # `hotline speech-node` processes, 1 then 2
    .venv/bin/python bench/speech.py --graph model   # the model's own lookahead graph, not the static one

A real gateway process (`hotline run`, embedded Redis, workers inline) logs in to the fake
Asterisk in this process, which streams the real clip (resampled to 8 kHz, repeated back to back:
continuous speech, the worst case for silence skipping) into a speech node's AudioSocket port:
the gateway's in-process node, or with --nodes that many `hotline speech-node` processes on the
gateway's Redis (the gateway then only leads). A supervisor desk on the real WebSocket receives
what agents would. Times across the processes use the same wall clock of this machine.

Baseline, same run: a bare `KaldiRecognizer` loop in this process, seconds of audio decoded per
CPU second of its thread, with a new recognizer and with a warm one (reset after a first pass,
as the nodes reuse them). A continuous leg needs one second of audio per second, so the warm
figure is the legs one core could decode with nothing around Vosk.

Figures:
  1. legs: the most concurrent real-time caller legs whose decoding lag stays under 1 s (the
     node's own lag indicator, `call.lag`), step by step (--legs); per step the CPU of the
     node(s), the leader, Redis and this process (the peers), in cores. Legs per core = legs /
     CPUs; node CPU per leg = the node's cores / legs at the highest sustained step; each with
     its ratio to the bare loop.
  2. partial latency p50/p95 over the sustained steps: WebSocket arrival minus the moment the
     newest audio in that partial was sent (audio is paced in real time), with the ratio to
     the first step's (least loaded) figures.
  3. screen pop p50/p99 (in-process node only): AgentCalled written by the AMI peer →
     call.ringing on the WebSocket.
  4. real-time factor of one leg through the gateway (in-process node only; audio sent as fast
     as possible; first frame → last final word on the WebSocket) against a bare loop.
  5. with --nodes 1,2: legs sustained by each configuration and the ratio.

Every process runs on the same machine: the peers (this process), Redis and the leader take
CPU from the nodes, so legs per core here is a lower bound for a node on its own machine.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.procs import children, command, cpu_seconds, machine_busy_seconds  # noqa: E402
from bench.stats import percentile  # noqa: E402
from peers.asterisk import FakeAsterisk  # noqa: E402
from speech.audio import read_wav, resample  # noqa: E402
from speech.model import default_model_dir, load_model, loaded_graph  # noqa: E402
from tests.support.processes import Gateway, SpeechNodeProc, free_port  # noqa: E402

SECRET = "bench-ami-secret"
CLIP = ROOT.parent / "shared" / "audio" / "BAC009S0764W0121.wav"
PASSWORD = "bench-password-1"
CAPACITY = 256  # places per node (a call's two legs take two): the lag, not admission, must end the ramp
PARTIAL_P95_TARGET_MS = 800.0


def speech_8k(seconds: float) -> bytes:
    clip = read_wav(CLIP)
    one = resample(clip.samples, clip.rate, 8000)
    repeats = max(1, int(seconds / (len(one) / 16000) + 0.999))
    return one * repeats


class Desk:
    def __init__(self) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.changed = asyncio.Event()

    async def run(self, base: str) -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{base}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}) as r:
                answer = await r.json()
                csrf = answer["csrf_token"]
            if answer["user"].get("must_change_password"):  # the bootstrap admin's first login
                async with http.post(f"{base}/api/v1/auth/password", headers={"X-CSRF-Token": csrf},
                                     json={"current_password": PASSWORD, "new_password": PASSWORD + "-changed"}) as r:
                    csrf = (await r.json())["csrf_token"]
            async with http.ws_connect(f"{base}/api/v1/agent/ws", headers={"X-CSRF-Token": csrf}) as ws:
                async for msg in ws:
                    self.events.append((time.time(), json.loads(msg.data)))
                    self.changed.set()

    async def wait(self, match: Any, timeout: float = 120.0) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for at, event in self.events[seen:]:
                if match(event):
                    return at, event
            seen = len(self.events)
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("event not seen")
            await asyncio.wait_for(self.changed.wait(), remaining)


def of(kind: str, linkedid: str) -> Any:
    return lambda e: e.get("type") == kind and (e.get("linkedid") == linkedid or e.get("call", {}).get("linkedid") == linkedid)


async def connected_call(asterisk: FakeAsterisk, desk: Desk, audio: bytes, realtime: bool) -> Any:
    call = await asterisk.inbound_call()
    asterisk.set_leg_audio(call.caller_channel, audio, realtime=realtime)
    await asterisk.ring_agent(call, agent_endpoint="1001", interface="PJSIP/1001")
    await asterisk.answer(call)
    return call


@dataclass
class Step:
    legs: int
    worst_lag: float
    node_cores: float  # CPU of the speech node process(es) over the step, in cores
    leader_cores: float  # the gateway (phone leader, desks; with the local node: all of it)
    redis_cores: float
    bench_cores: float  # this process: the fake Asterisk's frames and the desk
    machine_cores: float  # every process on the machine (others' work included: it is shared)
    partials: list[float]  # partial latency in ms, audio sent -> WebSocket

    @property
    def sustained(self) -> bool:
        """Real time as an agent sees it: no leg over 1 s behind, partials p95 within the target."""
        return self.worst_lag <= 1.0 and (not self.partials or percentile(self.partials, 95) <= PARTIAL_P95_TARGET_MS)


class CpuMeter:
    """CPU seconds of the processes that share the machine during a step."""

    def __init__(self, nodes: list[int], gateway: int, redis: list[int]) -> None:
        self.groups = {"node": nodes, "leader": [gateway] if gateway not in nodes else [], "redis": redis}

    def read(self) -> dict[str, float]:
        out = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.groups.items()}
        out["bench"] = time.process_time()
        out["machine"] = machine_busy_seconds()
        out["wall"] = time.monotonic()
        return out

    @staticmethod
    def cores(before: dict[str, float], after: dict[str, float], name: str) -> float:
        return (after[name] - before[name]) / (after["wall"] - before["wall"])


async def capacity(asterisk: FakeAsterisk, desk: Desk, steps: list[int], seconds: float, meter: CpuMeter) -> list[Step]:
    """Real-time legs, step by step, until the gateway reports a lag over 1 s (`call.lag`)."""
    audio = speech_8k(seconds)
    rows: list[Step] = []
    for legs in steps:
        mark = len(desk.events)
        calls = await asyncio.gather(*(connected_call(asterisk, desk, audio, True) for _ in range(legs)))
        ids = {c.linkedid for c in calls}
        # CPU is counted while every caller speaks: from the last spy up to the end of the audio.
        try:
            await asyncio.gather(*(asterisk.wait_event("ChanSpyStart", lambda e, c=c: e.get("SpyeeChannel") == c.caller_channel, timeout=60)
                                   for c in calls))
        except TimeoutError:  # the machine is too busy to even start every spy: past capacity
            print(f"  {legs:>2} leg(s): not every caller's spy started within 60 s (not sustained)", flush=True)
            await asyncio.gather(*(asterisk.hangup(c) for c in calls))
            break
        before = meter.read()
        await asyncio.gather(*(asterisk.wait_audio_done(c.caller_channel, timeout=seconds * 4 + 60) for c in calls))
        after = meter.read()
        await asyncio.gather(*(asterisk.hangup(c) for c in calls))
        await asyncio.gather(*(desk.wait(of("call.ended", c.linkedid), timeout=300) for c in calls))
        window = [(at, e) for at, e in desk.events[mark:] if e.get("linkedid") in ids]
        worst = max((e["seconds"] for _, e in window if e["type"] == "call.lag" and e["behind"]), default=0.0)
        started = {e["call"]["linkedid"]: e["call"]["started_at"] for _, e in window if e["type"] == "call.connected"}
        latency = [(at - (_epoch(started[e["linkedid"]]) + e["audio_time"])) * 1000 for at, e in window
                   if e["type"] == "call.partial" and e["leg"] == "caller" and e["linkedid"] in started]
        step = Step(legs, worst, *(CpuMeter.cores(before, after, k) for k in ("node", "leader", "redis", "bench", "machine")), latency)
        rows.append(step)
        print(f"  {legs:>2} leg(s): worst lag {worst:.1f} s; CPU in cores: node(s) {step.node_cores:.2f}, leader {step.leader_cores:.3f}, "
              f"redis {step.redis_cores:.3f}, bench peers {step.bench_cores:.2f}, whole machine {step.machine_cores:.2f}; partial p95 {percentile(latency, 95):.0f} ms"
              f"{'' if step.sustained else ' (not sustained)'}", flush=True)
        if not step.sustained:
            break
    return rows


def _epoch(iso: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(iso).timestamp()


async def screen_pops(asterisk: FakeAsterisk, desk: Desk, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        call = await asterisk.inbound_call()
        # As on a real line, the caller has been in the queue (and transcribed) before a phone rings.
        await asterisk.wait_event("ChanSpyStart", lambda e, c=call: e.get("SpyeeChannel") == c.caller_channel, timeout=30)
        sent = time.time()
        await asterisk.ring_agent(call, agent_endpoint="1001", interface="PJSIP/1001")
        at, _ = await desk.wait(of("call.ringing", call.linkedid))
        latencies.append((at - sent) * 1000)
        await asterisk.abandon(call)
    return latencies


async def gateway_rtf(asterisk: FakeAsterisk, desk: Desk, seconds: float) -> tuple[float, float]:
    audio = speech_8k(seconds)
    duration = len(audio) / 16000
    call = await connected_call(asterisk, desk, audio, realtime=False)
    # From the moment the caller's audio starts flowing (the spy is up) to the last word shown.
    await asterisk.wait_event("ChanSpyStart", lambda e: e.get("SpyeeChannel") == call.caller_channel, timeout=30)
    first_sent = time.time()
    await asterisk.wait_audio_done(call.caller_channel, timeout=600)
    await asterisk.hangup(call)
    last, _ = await desk.wait(of("call.ended", call.linkedid), timeout=600)
    finals = [at for at, e in desk.events if of("call.final", call.linkedid)(e)]
    return (max(finals + [last]) - first_sent) / duration, duration


async def gateway_pop_share(base: str) -> str:
    """The gateway's own screen-pop histogram: how much of the latency is inside it."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
        text = await resp.text()
    buckets = {float(m.group(1)): float(m.group(2)) for m in
               __import__("re").finditer(r'hotline_screen_pop_seconds_bucket\{le="([0-9.]+)"\} ([0-9.e+]+)', text)}
    count = max(buckets.values(), default=0.0)
    if not count:
        return "no samples"
    within = ", ".join(f"{share / count:.0%} ≤ {le * 1000:g} ms" for le, share in sorted(buckets.items()) if le in (0.005, 0.01, 0.05))
    return within


def bare_rtf(seconds: float) -> float:
    """Wall-clock real-time factor of a new recognizer over `seconds` of audio (the old figure)."""
    audio = speech_8k(seconds)
    started = time.perf_counter()
    _bare_decode(_new_recognizer(), audio)
    return (time.perf_counter() - started) / (len(audio) / 16000)


def bare_throughput(seconds: float, model: Any = None) -> tuple[float, float]:
    """Seconds of audio one core decodes per CPU second in a bare loop: (new recognizer, warm one
    after Reset(), as the nodes reuse them). CPU time of this thread, so other load on the
    machine does not count. `model`: default the one the gateway loads (load_model)."""
    audio = speech_8k(seconds)
    rec = _new_recognizer(model)
    t0 = time.thread_time()
    _bare_decode(rec, audio)
    new = time.thread_time() - t0
    rec.Reset()
    t0 = time.thread_time()
    _bare_decode(rec, audio)
    warm = time.thread_time() - t0
    duration = len(audio) / 16000
    return duration / new, duration / warm


def _new_recognizer(model: Any = None) -> Any:
    import vosk

    recognizer = vosk.KaldiRecognizer(model or load_model(), 8000)
    recognizer.SetWords(True)
    return recognizer


def _bare_decode(recognizer: Any, audio: bytes) -> None:
    for i in range(0, len(audio), 320 * 25):  # 0.5 s batches, as the gateway's legs catch up
        if recognizer.AcceptWaveform(audio[i:i + 320 * 25]):
            recognizer.Result()  # a transcript needs the utterances, as the gateway's finals
    recognizer.FinalResult()


def redis_children(pid: int) -> list[int]:
    return [c for c in children(pid) if "redis-server" in command(c)]


def start_nodes(count: int, redis_url: str, tmp: Path, graph: str) -> list[SpeechNodeProc]:
    nodes = [SpeechNodeProc(redis_url, tmp / f"node-{count}-{i}", f"bench{count}n{i}", HOTLINE_SPEECH_NODE_CAPACITY=str(CAPACITY),
                            HOTLINE_LOG_LEVEL="WARNING", HOTLINE_SPEECH_GRAPH=graph) for i in range(count)]
    for node in nodes:
        node.start(timeout=90)  # started = registered with the model loaded (its /readyz)
    return nodes


def report_nodes(label: str, steps: list[Step], bare_warm: float) -> dict[str, float]:
    """Print one configuration's figures; returns them for the comparison between configurations."""
    ok = [s for s in steps if s.sustained]
    sustained = max((s.legs for s in ok), default=0)
    cores = os.cpu_count() or 1
    partials = [ms for s in ok for ms in s.partials]
    top = max(ok, key=lambda s: s.legs) if ok else None
    per_leg = top.node_cores / top.legs if top else float("nan")  # cores one leg costs its node
    print(f"{label}: {sustained} real-time legs with lag < 1 s = {sustained / cores:.1f} legs per core "
          f"(ratio to bare Vosk, {bare_warm:.0f} legs per core: {sustained / cores / bare_warm:.2f})")
    if top:
        print(f"  node CPU per leg at {top.legs} legs: {per_leg:.3f} cores = {1 / per_leg:.1f} legs per busy core "
              f"(ratio to bare Vosk: {1 / per_leg / bare_warm:.2f}); leader {top.leader_cores:.2f}, redis {top.redis_cores:.2f}, "
              f"bench peers {top.bench_cores:.2f} cores")
    first = [ms for s in ok[:1] for ms in s.partials]
    p50, p95 = percentile(partials, 50), percentile(partials, 95)
    print(f"  partial transcript, audio sent → WebSocket: p50 {p50:.0f} ms, p95 {p95:.0f} ms over the sustained steps "
          f"({len(partials)} partials; ratio to the first step's p50 {percentile(first, 50):.0f} / p95 {percentile(first, 95):.0f} ms: "
          f"{p50 / max(percentile(first, 50), 1):.2f} / {p95 / max(percentile(first, 95), 1):.2f}; target p95 ≤ 800 ms)")
    return {"legs": sustained, "per_leg": per_leg}


async def main(args: argparse.Namespace) -> None:
    node_counts = [int(x) for x in args.nodes.split(",")] if args.nodes else []
    steps = [int(x) for x in args.legs.split(",")]
    cores = os.cpu_count() or 1
    asterisk = FakeAsterisk(username="hotline", secret=SECRET, login_failure_delay=0.05)
    await asterisk.start()
    print(f"machine: {cores} CPUs, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    os.environ["HOTLINE_SPEECH_GRAPH"] = args.graph  # the bare loop decodes with what the gateway does
    print("bare Vosk loop (baseline, same run) …", flush=True)
    bare_new, bare_warm = (statistics.median(x) for x in zip(*(bare_throughput(args.rtf_seconds) for _ in range(3))))
    print(f"  one core decodes {bare_new:.1f} s of audio per CPU second with a new recognizer, {bare_warm:.1f} with a warm one "
          f"({loaded_graph()} graph, as the gateway)", flush=True)
    if loaded_graph() == "static":
        import vosk

        own = vosk.Model(str(default_model_dir()))  # the model's own lookahead graph, for comparison
        own_new, own_warm = (statistics.median(x) for x in zip(*(bare_throughput(args.rtf_seconds, own) for _ in range(3))))
        print(f"  the model's own graph: {own_new:.1f} with a new recognizer, {own_warm:.1f} with a warm one "
              f"(static / own: {bare_new / own_new:.2f}× new, {bare_warm / own_warm:.2f}× warm)", flush=True)
    results: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        gateway = Gateway(None, Path(tmp) / "gw", HOTLINE_PHONE="1", HOTLINE_AMI_PORT=str(asterisk.port), HOTLINE_AMI_SECRET=SECRET,
                          HOTLINE_AUDIOSOCKET_LISTEN=f"127.0.0.1:{free_port()}", HOTLINE_PHONE_AGENTS="PJSIP/1001=admin",
                          HOTLINE_WORKERS="inline", HOTLINE_BOOTSTRAP_ADMIN_PASSWORD=PASSWORD, HOTLINE_LOG_LEVEL="WARNING",
                          HOTLINE_RATE_LIMIT_PHONE_PER_DAY="1000000", HOTLINE_SPEECH_NODE_CAPACITY=str(CAPACITY),
                          HOTLINE_SPEECH_LOCAL_NODE="0" if node_counts else "1", HOTLINE_SPEECH_GRAPH=args.graph)
        gateway.start(timeout=60)
        assert gateway.proc is not None
        gw_pid = gateway.proc.pid
        desk = Desk()
        reader = asyncio.create_task(desk.run(gateway.base))
        nodes: list[SpeechNodeProc] = []
        try:
            await asterisk.wait_for_clients(timeout=30)
            await desk.wait(lambda e: e.get("type") == "hello")
            redis = redis_children(gw_pid)
            if not node_counts:
                print("one leg through the gateway …", flush=True)
                through = statistics.median([(await gateway_rtf(asterisk, desk, args.rtf_seconds))[0] for _ in range(3)])
                bare = bare_rtf(args.rtf_seconds)
                print(f"screen pops ×{args.pops} …", flush=True)
                pops = await screen_pops(asterisk, desk, args.pops)
                inside = await gateway_pop_share(gateway.base)
                print(f"concurrent real-time legs, in-process node ({args.leg_seconds:.0f} s of continuous speech each) …", flush=True)
                rows = await capacity(asterisk, desk, steps, args.leg_seconds, CpuMeter([gw_pid], gw_pid, redis))
                print()
                print(f"real-time factor, one leg (wall clock): gateway {through:.3f}, bare Vosk loop with a new recognizer {bare:.3f}, "
                      f"ratio {through / bare:.2f} (target ≤ 1.1; the gateway's leg reuses a warm recognizer)")
                print(f"screen pop, AgentCalled → WebSocket: p50 {percentile(pops, 50):.1f} ms, p99 {percentile(pops, 99):.1f} ms (target p99 ≤ 50 ms)")
                print(f"  inside the gateway (AMI event in → published): {inside}")
                report_nodes("in-process node", rows, bare_warm)
            for count in node_counts:
                print(f"{count} speech node process(es), real-time legs ({args.leg_seconds:.0f} s of continuous speech each) …", flush=True)
                nodes = start_nodes(count, f"unix://{Path(tmp) / 'gw' / 'redis' / 'redis.sock'}", Path(tmp), args.graph)
                pids = [n.proc.pid for n in nodes if n.proc is not None]
                rows = await capacity(asterisk, desk, steps, args.leg_seconds, CpuMeter(pids, gw_pid, redis))
                # Stopped from a thread: the fake Asterisk in this loop must keep answering them.
                await asyncio.gather(*(asyncio.to_thread(node.stop) for node in nodes))
                nodes = []
                results.append((f"{count} node(s)", report_nodes(f"{count} node(s)", rows, bare_warm)))
        finally:
            reader.cancel()
            await asyncio.gather(*(asyncio.to_thread(node.stop) for node in nodes))
            await asyncio.to_thread(gateway.stop)
            await asterisk.stop()
    if len(results) > 1:
        (first, a), (last, b) = results[0], results[-1]
        print(f"scaling {last} / {first}: legs {b['legs']} / {a['legs']} = {b['legs'] / max(a['legs'], 1):.2f}× "
              f"(node CPU per leg {b['per_leg'] / a['per_leg']:.2f}× that of {first}; {cores} cores are shared by every process here)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", default="", help="e.g. 1,2: `hotline speech-node` processes instead of the in-process node, "
                                                    "each count in turn (the screen-pop and one-leg figures are then not run)")
    parser.add_argument("--legs", default="1,2,4,6,8,10,12,14,16,20,24", help="concurrent legs per step; stops at the first over 1 s of lag")
    parser.add_argument("--leg-seconds", type=float, default=20.0)
    parser.add_argument("--rtf-seconds", type=float, default=30.0)
    parser.add_argument("--pops", type=int, default=200)
    parser.add_argument("--graph", choices=("auto", "model"), default="auto",
                        help="HOTLINE_SPEECH_GRAPH of the gateway and nodes: auto (the static graph if composed) or model (the model's own)")
    asyncio.run(main(parser.parse_args()))
