"""Memory and Redis figures for the capacity model (docs/capacity.md), all measured in one run.

    .venv/bin/python bench/footprint.py [--legs 0,4,8,16] [--seconds 12] [--web 200]

A gateway process (embedded Redis; the phone leader, no in-process node) and one
`hotline speech-node` process, with the fake Asterisk in this process streaming the real clip
(8 kHz, continuous speech) on N concurrent caller legs, N stepping up:
  1. speech node RSS with N legs open (peak while they speak) and after they end (the
     recognizers stay warm for the next legs);
  2. Redis commands per leg-second while legs speak (INFO total_commands_processed), and per
     web request;
  3. Redis MEMORY USAGE of a phone ticket with its transcript (and its history list), of a web
     ticket, and used_memory growth per ticket (indexes, streams and idempotency keys included).
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
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.procs import rss_mb  # noqa: E402
from bench.speech import PASSWORD, SECRET, Desk, connected_call, of, speech_8k  # noqa: E402
from gateway import keys  # noqa: E402
from peers.asterisk import FakeAsterisk  # noqa: E402
from tests.support.processes import Gateway, SpeechNodeProc, free_port  # noqa: E402

WEB_BODY = {"kind": "complaint", "description": "小区门口的路灯坏了一个多星期，晚上很黑，老人出行不方便，请尽快派人维修。",
            "district": "朝阳区", "phone": "13812345678"}


async def commands(redis: Redis) -> int:
    return int((await redis.info("stats"))["total_commands_processed"])


async def used_memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def ticket_bytes(redis: Redis, ticket_id: str) -> dict[str, int]:
    found = {}
    for key in (keys.ticket(ticket_id), keys.history(ticket_id), keys.deliveries(ticket_id)):
        size = await redis.memory_usage(key, samples=0)
        if size:
            found[key.split(":", 2)[-1] if ":" in key else key] = int(size)
    return found


async def legs_step(asterisk: FakeAsterisk, desk: Desk, redis: Redis, node: SpeechNodeProc, legs: int, seconds: float) -> dict[str, Any]:
    audio = speech_8k(seconds)
    calls = await asyncio.gather(*(connected_call(asterisk, desk, audio, True) for _ in range(legs)))
    await asyncio.gather(*(asterisk.wait_event("ChanSpyStart", lambda e, c=c: e.get("SpyeeChannel") == c.caller_channel, timeout=30)
                           for c in calls))
    assert node.proc is not None
    ops0, t0, peak = await commands(redis), time.monotonic(), rss_mb(node.proc.pid)
    done = asyncio.gather(*(asterisk.wait_audio_done(c.caller_channel, timeout=seconds * 4 + 60) for c in calls))
    while not done.done():
        peak = max(peak, rss_mb(node.proc.pid))
        await asyncio.sleep(0.5)
    await done
    ops = (await commands(redis) - ops0) / (time.monotonic() - t0)
    await asyncio.gather(*(asterisk.hangup(c) for c in calls))
    await asyncio.gather(*(desk.wait(of("call.ended", c.linkedid), timeout=300) for c in calls))
    return {"legs": legs, "peak": peak, "after": rss_mb(node.proc.pid), "ops": ops}


async def main(args: argparse.Namespace) -> None:
    asterisk = FakeAsterisk(username="hotline", secret=SECRET, login_failure_delay=0.05)
    await asterisk.start()
    with tempfile.TemporaryDirectory() as tmp:
        gateway = Gateway(None, Path(tmp) / "gw", HOTLINE_PHONE="1", HOTLINE_AMI_PORT=str(asterisk.port), HOTLINE_AMI_SECRET=SECRET,
                          HOTLINE_AUDIOSOCKET_LISTEN=f"127.0.0.1:{free_port()}", HOTLINE_PHONE_AGENTS="PJSIP/1001=admin",
                          HOTLINE_WORKERS="inline", HOTLINE_BOOTSTRAP_ADMIN_PASSWORD=PASSWORD, HOTLINE_LOG_LEVEL="WARNING",
                          HOTLINE_RATE_LIMIT_PHONE_PER_DAY="1000000", HOTLINE_RATE_LIMIT_IP_PER_HOUR="1000000",
                          HOTLINE_SPEECH_LOCAL_NODE="0")
        gateway.start(timeout=60)
        url = f"unix://{Path(tmp) / 'gw' / 'redis' / 'redis.sock'}"
        node = SpeechNodeProc(url, Path(tmp) / "node", "footprint", HOTLINE_SPEECH_NODE_CAPACITY="64", HOTLINE_LOG_LEVEL="WARNING")
        redis = Redis.from_url(url)
        desk = Desk()
        reader = asyncio.create_task(desk.run(gateway.base))
        try:
            node.start(timeout=90)
            assert node.proc is not None
            await asterisk.wait_for_clients(timeout=30)
            await desk.wait(lambda e: e.get("type") == "hello")
            print(f"speech node, model loaded, no leg yet: RSS {rss_mb(node.proc.pid):.0f} MB", flush=True)
            steps = []
            mem0, calls0 = await used_memory(redis), 0
            for legs in [int(x) for x in args.legs.split(",") if int(x) > 0]:
                step = await legs_step(asterisk, desk, redis, node, legs, args.seconds)
                steps.append(step)
                calls0 += legs
                print(f"  {legs:>2} legs speaking: node RSS peak {step['peak']:.0f} MB, after they ended {step['after']:.0f} MB; "
                      f"Redis {step['ops']:.0f} commands/s = {step['ops'] / legs:.1f} per leg-second", flush=True)
            phone_growth = (await used_memory(redis) - mem0) / max(calls0, 1)
            phone = await phone_tickets(redis)
            ops0, mem0 = await commands(redis), await used_memory(redis)
            web_ids = await post_web(gateway.base, args.web)
            web_ops = (await commands(redis) - ops0) / args.web
            web_growth = (await used_memory(redis) - mem0) / args.web
            web = [await ticket_bytes(redis, t) for t in web_ids[:20]]
        finally:
            reader.cancel()
            await redis.aclose()
            node.stop()
            gateway.stop()
            await asterisk.stop()
    print()
    if phone:
        sizes = [sum(p.values()) for p in phone]
        segs = [p["segments"] for p in phone]
        print(f"phone ticket with transcript ({statistics.median(segs):.0f} segments, {args.seconds:.0f} s of speech): "
              f"MEMORY USAGE {statistics.median(sizes) / 1024:.1f} KB median (ticket + history), range {min(sizes) / 1024:.1f}–{max(sizes) / 1024:.1f} KB")
    print(f"  used_memory growth per call: {phone_growth / 1024:.1f} KB (tickets, history, live view, speech event stream entries)")
    print(f"web ticket: MEMORY USAGE {statistics.median(sum(w.values()) for w in web) / 1024:.1f} KB median (ticket + history); "
          f"used_memory growth per request {web_growth / 1024:.1f} KB; {web_ops:.1f} Redis commands per request")


async def phone_tickets(redis: Redis) -> list[dict[str, int]]:
    """Every phone ticket in Redis: its bytes per key and the number of transcript segments."""
    found = []
    async for key in redis.scan_iter(match=keys.ticket("*"), count=1000):
        name = key.decode()
        if name.count(":") != 2:
            continue
        doc = json.loads(await redis.get(name) or "{}") if (await redis.type(name)) == b"string" else {}
        if doc.get("channel") != "phone" or not doc.get("transcript"):
            continue
        sizes = await ticket_bytes(redis, name.split(":", 2)[2])
        sizes["segments"] = len(doc["transcript"])
        found.append(sizes)
    return found


async def post_web(base: str, count: int) -> list[str]:
    ids = []
    async with aiohttp.ClientSession() as http:
        for i in range(count):
            body = dict(WEB_BODY, phone=f"138{i:08d}")
            async with http.post(f"{base}/api/v1/requests", json=body, headers={"Idempotency-Key": f"footprint-{i}"}) as resp:
                answer = await resp.json()
                ids.append(answer.get("ticket_id") or answer.get("id") or "")
    return [i for i in ids if i]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--legs", default="4,8,16")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--web", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
