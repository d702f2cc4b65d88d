"""Video relay capacity: how many concurrent citizen ↔ agent sessions one gateway process
sustains, and the CPU each costs, next to a bare aiortc relay (the baseline) in the same run.

    .venv/bin/python bench/video.py [--max-sessions 8] [--seconds 6] [--width 320 --height 240 --fps 15]

A real gateway (`hotline run`, embedded Redis) and the bare relay (bench/video_bare_relay.py)
each get sessions added one step at a time. Each session is two aiortc peers in this process:
a "citizen" and a sign-language "agent" (logged in, accepting through the desk API), each
sending a synthetic moving picture and counting the frames it receives from the other side.
For each step the server process's CPU (user + system, all threads) is measured over a
window, and a step is sustained while every peer still receives ≥ 80 % of the frame rate sent.
The peers' own CPU (encoding and decoding both sides) is on the same machine and reported
too: on 2 cores they, not the gateway, may be what runs out first.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from peers.video import Picture, offer  # noqa: E402
from tests.support.desk import PASSWORD  # noqa: E402
from tests.support.processes import Gateway, free_port, wait_http  # noqa: E402


@dataclass
class Session:
    pcs: list[RTCPeerConnection] = field(default_factory=list)
    received: dict[str, int] = field(default_factory=lambda: {"citizen": 0, "agent": 0})
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def count(self, side: str, track: MediaStreamTrack) -> None:
        async def pump() -> None:
            while True:
                try:
                    await track.recv()
                except MediaStreamError:
                    return
                if track.kind == "video":
                    self.received[side] += 1
        self.tasks.append(asyncio.create_task(pump()))

    async def peer(self, side: str, args: argparse.Namespace) -> tuple[RTCPeerConnection, str]:
        """A new peer for `side` sending the moving picture, counting what it receives; returns it and its offer."""
        pc = RTCPeerConnection()
        self.pcs.append(pc)
        pc.on("track", lambda t: self.count(side, t))
        return pc, await offer(pc, Picture(args.width, args.height, args.fps))

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()
        for t in self.tasks:
            t.cancel()


class Target:
    """Where sessions are opened: the gateway, or the bare relay."""

    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.process = psutil.Process(pid)

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in [self.process, *self.process.children(recursive=True)]:
            try:
                if "redis" in p.name():  # the embedded Redis is not the relay's cost
                    continue
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    async def open(self, http: aiohttp.ClientSession, args: argparse.Namespace) -> Session:
        raise NotImplementedError


class GatewayTarget(Target):
    def __init__(self, gateway: Gateway, agent_http: aiohttp.ClientSession, csrf: str) -> None:
        super().__init__("gateway (record + relay + Redis state)", gateway.proc.pid)
        self.base = gateway.base
        self.agent_http = agent_http
        self.csrf = csrf

    async def open(self, http: aiohttp.ClientSession, args: argparse.Namespace) -> Session:
        s = Session()
        citizen, sdp = await s.peer("citizen", args)
        async with http.post(f"{self.base}/api/v1/video/sessions", json={"type": "offer", "sdp": sdp}) as r:
            started = await r.json()
            assert r.status == 201, started
        await citizen.setRemoteDescription(RTCSessionDescription(started["answer"]["sdp"], "answer"))
        agent, sdp = await s.peer("agent", args)
        async with self.agent_http.post(f"{self.base}/api/v1/agent/video/sessions/{started['session_id']}/accept",
                                        json={"type": "offer", "sdp": sdp}, headers={"X-CSRF-Token": self.csrf}) as r:
            answer = await r.json()
            assert r.status == 200, answer
        await agent.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        return s


class BareTarget(Target):
    def __init__(self, proc: subprocess.Popen, base: str) -> None:
        super().__init__("bare aiortc relay (baseline)", proc.pid)
        self.base = base

    async def open(self, http: aiohttp.ClientSession, args: argparse.Namespace) -> Session:
        s = Session()
        citizen, sdp = await s.peer("citizen", args)
        async with http.post(f"{self.base}/citizen", json={"sdp": sdp}) as r:
            started = await r.json()
        await citizen.setRemoteDescription(RTCSessionDescription(started["sdp"], "answer"))
        agent, sdp = await s.peer("agent", args)
        async with http.post(f"{self.base}/agent/{started['session_id']}", json={"sdp": sdp}) as r:
            answer = await r.json()
        await agent.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        return s


async def run(target: Target, http: aiohttp.ClientSession, args: argparse.Namespace) -> list[tuple[int, float, float, float, bool]]:
    """Rows of (sessions, server CPU %, worst received fps, peers' CPU %, sustained)."""
    me = psutil.Process()
    sessions: list[Session] = []
    rows = []
    try:
        for n in range(1, args.max_sessions + 1):
            sessions.append(await target.open(http, args))
            await asyncio.sleep(args.warmup)  # connect, first key frames, encoders settled
            before = {id(s): dict(s.received) for s in sessions}
            cpu0, mine0, t0 = target.cpu_seconds(), sum(me.cpu_times()[:2]), time.monotonic()
            await asyncio.sleep(args.seconds)
            wall = time.monotonic() - t0
            cpu = (target.cpu_seconds() - cpu0) / wall * 100
            peers = (sum(me.cpu_times()[:2]) - mine0) / wall * 100
            worst = min((s.received[side] - before[id(s)][side]) / wall for s in sessions for side in ("citizen", "agent"))
            ok = worst >= 0.8 * args.fps
            rows.append((n, cpu, worst, peers, ok))
            print(f"  {target.name}: {n} sessions  server CPU {cpu:5.1f} %  worst peer {worst:4.1f} fps  peers' CPU {peers:5.1f} %"
                  f"  {'sustained' if ok else 'NOT sustained'}", flush=True)
            if not ok:
                break
    finally:
        for s in sessions:
            await s.close()
    return rows


def per_session(rows: list[tuple[int, float, float, float, bool]]) -> float:
    """CPU % per session: slope over the sustained steps (idle cost excluded)."""
    good = [r for r in rows if r[4]] or rows[:1]
    if len(good) < 2:
        return good[0][1] / good[0][0]
    return (good[-1][1] - good[0][1]) / (good[-1][0] - good[0][0])


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "gw"
        gateway = Gateway(None, data, HOTLINE_LOG_LEVEL="WARNING", HOTLINE_WORKERS="off", HOTLINE_VIDEO_MAX_SESSIONS="1000",
                          HOTLINE_VIDEO_MAX_WIDTH=str(args.width), HOTLINE_VIDEO_MAX_HEIGHT=str(args.height),
                          HOTLINE_VIDEO_MAX_FRAMERATE=str(args.fps))
        gateway.start(timeout=60)
        port = free_port()
        bare = subprocess.Popen([sys.executable, str(ROOT / "bench" / "video_bare_relay.py"), "--port", str(port)], cwd=ROOT)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", 30, bare)
            subprocess.run([sys.executable, "-m", "server.cli", "users", "add", "signer", "--role", "agent", "--capability", "sign_language",
                            "--password-stdin"], input=PASSWORD + "\n", text=True, check=True, cwd=ROOT, capture_output=True,
                           env={**os.environ, "HOTLINE_DATA_DIR": str(data)})
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent_http, aiohttp.ClientSession() as http:
                async with agent_http.post(f"{gateway.base}/api/v1/auth/login", json={"username": "signer", "password": PASSWORD}) as r:
                    csrf = (await r.json())["csrf_token"]
                print(f"{os.cpu_count()} cores; each session: citizen and agent each send {args.width}x{args.height} at {args.fps} fps; "
                      f"{args.seconds:.0f} s windows", flush=True)
                base_rows = await run(BareTarget(bare, f"http://127.0.0.1:{port}"), http, args)
                gw_rows = await run(GatewayTarget(gateway, agent_http, csrf), http, args)
        finally:
            bare.terminate()
            bare.wait(10)
            gateway.stop()
    gw_max = max((r[0] for r in gw_rows if r[4]), default=0)
    bare_max = max((r[0] for r in base_rows if r[4]), default=0)
    gw_cost, bare_cost = per_session(gw_rows), per_session(base_rows)
    print(f"sustained sessions: gateway {gw_max}, bare relay {bare_max} (stopped at {args.max_sessions})")
    print(f"CPU per session (% of one core): gateway {gw_cost:.1f}, bare relay {bare_cost:.1f}; ratio gateway/bare {gw_cost / bare_cost:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=15)
    asyncio.run(main(parser.parse_args()))
