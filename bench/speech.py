"""Phone channel speed: live transcription capacity, partial and screen-pop latency, and the
gateway's decoding overhead against a bare Vosk loop, all in one run.

    .venv/bin/python bench/speech.py [--max-legs 8] [--leg-seconds 20] [--pops 200]

A real gateway process (`hotline run`, embedded Redis, workers inline) logs in to the fake
Asterisk in this process, which streams the real clip (resampled to 8 kHz, repeated back to back:
continuous speech, the worst case for silence skipping) into the gateway's AudioSocket port. A
supervisor desk on the real WebSocket receives what agents would. Times across the two
processes use the same wall clock of this machine.

Figures:
  1. legs: the most concurrent real-time caller legs whose decoding lag stays under 1 s
     (the gateway's own lag indicator, `call.lag`), ramping 1, 2, 3, …
  2. partial latency p50/p95: WebSocket arrival minus the moment the newest audio in that
     partial was sent (audio is paced in real time).
  3. screen pop p50/p99: AgentCalled written by the AMI peer → call.ringing on the WebSocket.
  4. real-time factor of one leg through the gateway (audio sent as fast as possible; first
     frame → last final word on the WebSocket) against a bare `KaldiRecognizer` loop over the
     same audio in this process; the ratio gateway/bare is the overhead (target ≤ 1.1).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from peers.asterisk import FakeAsterisk  # noqa: E402
from speech.audio import read_wav, resample  # noqa: E402
from speech.model import load_model  # noqa: E402
from tests.support.processes import Gateway, free_port  # noqa: E402

SECRET = "bench-ami-secret"
CLIP = ROOT.parent / "shared" / "audio" / "BAC009S0764W0121.wav"
PASSWORD = "bench-password-1"


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


async def capacity(asterisk: FakeAsterisk, desk: Desk, max_legs: int, seconds: float) -> tuple[int, list[dict[str, Any]], list[float]]:
    """Ramp concurrent real-time legs until the gateway reports a lag over 1 s."""
    audio = speech_8k(seconds)
    rows, partial_latency, sustained = [], [], 0
    for legs in range(1, max_legs + 1):
        mark = len(desk.events)
        calls = await asyncio.gather(*(connected_call(asterisk, desk, audio, True) for _ in range(legs)))
        ids = {c.linkedid for c in calls}
        await asyncio.gather(*(asterisk.wait_audio_done(c.caller_channel, timeout=seconds * 4 + 60) for c in calls))
        await asyncio.gather(*(asterisk.hangup(c) for c in calls))
        await asyncio.gather(*(desk.wait(of("call.ended", c.linkedid), timeout=300) for c in calls))
        window = [(at, e) for at, e in desk.events[mark:] if e.get("linkedid") in ids]
        worst = max((e["seconds"] for _, e in window if e["type"] == "call.lag" and e["behind"]), default=0.0)
        started = {e["call"]["linkedid"]: e["call"]["started_at"] for _, e in window if e["type"] == "call.connected"}
        for at, e in window:
            if e["type"] == "call.partial" and e["leg"] == "caller" and e["linkedid"] in started:
                call_start = _epoch(started[e["linkedid"]])
                partial_latency.append((at - (call_start + e["audio_time"])) * 1000)
        rows.append({"legs": legs, "worst_lag_s": worst})
        print(f"  {legs} leg(s): worst decoding lag {worst:.1f} s", flush=True)
        if worst > 1.0:
            break
        sustained = legs
    return sustained, rows, partial_latency


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
    import vosk

    audio = speech_8k(seconds)
    recognizer = vosk.KaldiRecognizer(load_model(), 8000)
    started = time.perf_counter()
    recognizer.SetWords(True)
    for i in range(0, len(audio), 320 * 25):  # 0.5 s batches, as the gateway's legs catch up
        if recognizer.AcceptWaveform(audio[i:i + 320 * 25]):
            recognizer.Result()  # a transcript needs the utterances, as the gateway's finals
    recognizer.FinalResult()
    return (time.perf_counter() - started) / (len(audio) / 16000)


async def main(args: argparse.Namespace) -> None:
    asterisk = FakeAsterisk(username="hotline", secret=SECRET, login_failure_delay=0.05)
    await asterisk.start()
    with tempfile.TemporaryDirectory() as tmp:
        gateway = Gateway(None, Path(tmp) / "gw", HOTLINE_PHONE="1", HOTLINE_AMI_PORT=str(asterisk.port), HOTLINE_AMI_SECRET=SECRET,
                          HOTLINE_AUDIOSOCKET_LISTEN=f"127.0.0.1:{free_port()}", HOTLINE_PHONE_AGENTS="PJSIP/1001=admin",
                          HOTLINE_WORKERS="inline", HOTLINE_BOOTSTRAP_ADMIN_PASSWORD=PASSWORD, HOTLINE_LOG_LEVEL="WARNING",
                          HOTLINE_RATE_LIMIT_PHONE_PER_DAY="1000000")
        gateway.start(timeout=60)
        desk = Desk()
        reader = asyncio.create_task(desk.run(gateway.base))
        try:
            await asterisk.wait_for_clients(timeout=30)
            await desk.wait(lambda e: e.get("type") == "hello")
            print("bare Vosk loop (baseline, same run) …", flush=True)
            bare = statistics.median(bare_rtf(args.rtf_seconds) for _ in range(3))
            print("one leg through the gateway …", flush=True)
            through = statistics.median([(await gateway_rtf(asterisk, desk, args.rtf_seconds))[0] for _ in range(3)])
            print(f"screen pops ×{args.pops} …", flush=True)
            pops = await screen_pops(asterisk, desk, args.pops)
            print(f"concurrent real-time legs ({args.leg_seconds:.0f} s of continuous speech each) …", flush=True)
            inside = await gateway_pop_share(gateway.base)
            sustained, _, partials = await capacity(asterisk, desk, args.max_legs, args.leg_seconds)
        finally:
            reader.cancel()
            gateway.stop()
            await asterisk.stop()
    print()
    print(f"real-time factor, one leg: gateway {through:.3f}, bare Vosk loop {bare:.3f}, overhead ratio {through / bare:.2f} (target ≤ 1.1)")
    print(f"screen pop, AgentCalled → WebSocket: p50 {percentile(pops, 50):.1f} ms, p99 {percentile(pops, 99):.1f} ms (target p99 ≤ 50 ms)")
    print(f"  inside the gateway (AMI event in → published): {inside}")
    print(f"partial transcript, audio sent → WebSocket: p50 {percentile(partials, 50):.0f} ms, p95 {percentile(partials, 95):.0f} ms "
          f"({len(partials)} partials)")
    print(f"concurrent real-time legs with lag under 1 s: {sustained} (ratio to the single-leg baseline: {sustained}×)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-legs", type=int, default=8)
    parser.add_argument("--leg-seconds", type=float, default=20.0)
    parser.add_argument("--rtf-seconds", type=float, default=30.0)
    parser.add_argument("--pops", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
