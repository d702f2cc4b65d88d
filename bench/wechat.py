"""WeChat push throughput: safe-mode text message in, encrypted passive reply out, at a fixed
offered rate, next to the JSON intake of the same gateway at the same rate (the baseline), in
one run.

    .venv/bin/python bench/wechat.py [--rate 200] [--seconds 10]

A real gateway process (`hotline run`, embedded Redis with AOF) serves both. Every push is a
distinct consultation (own MsgId and OpenID), signed and AES-encrypted by the WeChat peer ahead
of time, so the load generator only sends bytes; every reply is checked (decrypted and its
signature verified) after the run. Open loop: requests leave on schedule whether or not earlier
ones have answered, so queueing shows in the latency. Target: p99 ≤ 100 ms at 200 messages/s.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import percentile as pct  # noqa: E402
from peers import wechat as wx  # noqa: E402
from tests.support.processes import Gateway  # noqa: E402

QUESTIONS = ["居住证怎么办理", "社保卡丢了怎么补办", "公积金怎么提取", "小客车指标怎么申请", "孩子入学需要什么材料"]


async def offered(http: aiohttp.ClientSession, requests: list[tuple[str, dict[str, str] | None, bytes, dict[str, str]]],
                  rate: float) -> tuple[list[float], list[tuple[int, bytes]], float]:
    latencies: list[float] = []
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(requests)
    started = time.perf_counter()

    async def one(i: int) -> None:
        url, params, body, headers = requests[i]
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        sent = time.perf_counter()
        async with http.post(url, params=params, data=body, headers=headers) as resp:
            answers[i] = (resp.status, await resp.read())
        latencies.append((time.perf_counter() - sent) * 1000)

    await asyncio.gather(*(one(i) for i in range(len(requests))))
    return latencies, answers, time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    account = wx.Account.generate()
    count = int(args.rate * args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        gateway = Gateway(None, Path(tmp) / "gw", HOTLINE_WECHAT_ACCOUNTS="main", HOTLINE_WECHAT_MAIN_TOKEN=account.token,
                          HOTLINE_WECHAT_MAIN_APPID=account.appid, HOTLINE_WECHAT_MAIN_AES_KEY=account.encoding_aes_key,
                          HOTLINE_WECHAT_MAIN_SECRET=account.appsecret, HOTLINE_LOG_LEVEL="WARNING",
                          HOTLINE_RATE_LIMIT_IP_PER_HOUR="100000000", HOTLINE_RATE_LIMIT_PHONE_PER_DAY="100000000")
        gateway.start(timeout=60)
        try:
            peer = wx.WeChatPeer(account, f"{gateway.base}/wechat/main")
            pushes = []
            for i in range(count):
                xml = wx.text(f"oBench{i:022d}", QUESTIONS[i % len(QUESTIONS)], msg_id=7_000_000_000 + i)
                body, query = peer.build_push(xml, "safe")
                pushes.append((peer.gateway_url, query, body, {"Content-Type": "text/xml"}))
            forms = [(f"{gateway.base}/api/v1/requests", None,
                      ('{"kind":"consultation","description":"%s","phone":"138%08d"}' % (QUESTIONS[i % len(QUESTIONS)], i)).encode(),
                      {"Content-Type": "application/json"}) for i in range(count)]
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as http:
                await offered(http, forms[: min(200, count)], args.rate)  # warm up both paths
                await offered(http, pushes[: min(50, count)], args.rate)
                pushes = pushes[min(50, count):]
                form_lat, form_answers, form_wall = await offered(http, forms, args.rate)
                wx_lat, wx_answers, wx_wall = await offered(http, pushes, args.rate)
        finally:
            gateway.stop()
    bad = 0
    for (status, body), (_, query, _, _) in zip(wx_answers, pushes):
        result = peer.judge(status, body, "safe", query)  # decrypt and verify the signature, as WeChat does
        if result.error or result.reply is None:
            bad += 1
    form_bad = sum(1 for status, _ in form_answers if status != 201)
    print(f"offered {args.rate:.0f}/s for {args.seconds:.0f} s")
    print(f"  intake (JSON form, baseline): {len(form_lat) / form_wall:7.1f} req/s  p50 {pct(form_lat, 50):6.1f} ms  "
          f"p99 {pct(form_lat, 99):6.1f} ms  errors {form_bad}")
    print(f"  wechat safe mode, encrypted reply: {len(wx_lat) / wx_wall:7.1f} msg/s  p50 {pct(wx_lat, 50):6.1f} ms  "
          f"p99 {pct(wx_lat, 99):6.1f} ms  bad replies {bad}")
    print(f"  p99 ratio wechat/intake: {pct(wx_lat, 99) / pct(form_lat, 99):.2f}   (target: wechat p99 ≤ 100 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args()))
