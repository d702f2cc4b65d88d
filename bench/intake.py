"""JSON intake throughput and latency at 50 concurrent connections, next to a bare aiohttp handler.

    .venv/bin/python bench/intake.py [--seconds 10] [--connections 50]

Both servers run as one process each, on the same machine, one after the other in the same run;
the gateway uses the embedded Redis as the product runs it (AOF, appendfsync always; `--appendfsync
everysec` for comparison). Load comes from wrk (C) when
installed (`apt-get install wrk`), else from a Python load generator in its own process (which
then costs the servers some CPU: prefer wrk). Prints requests/s, p50 and p99 for each and the
ratio gateway/bare. Targets on the 2-core reference machine: ratio >= 0.35, p99 <= 20 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.support.processes import free_port, wait_http  # noqa: E402

BODY = {"kind": "consultation", "description": "请问办理居住证需要准备哪些材料？", "district": "朝阳区", "phone": "13812345678"}

WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
"""


def _wrk(url: str, seconds: int, connections: int, script: Path) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)

    def pct(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99"), "errors": int(non2xx.group(1)) if non2xx else 0}


def _python_load(url: str, seconds: int, connections: int) -> dict[str, float]:
    code = r"""
import asyncio, json, sys, time, aiohttp
url, seconds, conns, body = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()
lat, errors = [], 0
async def worker(http, stop_at):
    global errors
    while time.perf_counter() < stop_at:
        t = time.perf_counter()
        async with http.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
            await r.read()
            if r.status >= 300: errors += 1
        lat.append(time.perf_counter() - t)
async def main():
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conns)) as http:
        stop_at = time.perf_counter() + seconds
        await asyncio.gather(*(worker(http, stop_at) for _ in range(conns)))
asyncio.run(main())
lat.sort()
print(json.dumps({"rps": len(lat) / seconds, "p50_ms": lat[len(lat) // 2] * 1000, "p99_ms": lat[int(len(lat) * 0.99)] * 1000, "errors": errors}))
"""
    out = subprocess.run([sys.executable, "-c", code, url, str(seconds), str(connections), json.dumps(BODY)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def measure(url: str, seconds: int, connections: int, workdir: Path) -> dict[str, float]:
    if shutil.which("wrk"):
        script = workdir / "post.lua"
        script.write_text(WRK_LUA % json.dumps(BODY, ensure_ascii=False))
        _wrk(url, 2, connections, script)  # warm-up
        return _wrk(url, seconds, connections, script)
    _python_load(url, 2, connections)
    return _python_load(url, seconds, connections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--appendfsync", choices=["always", "everysec"], default="always")
    args = parser.parse_args()
    tool = "wrk" if shutil.which("wrk") else "python load generator"

    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        work = Path(tmp)
        redis = EmbeddedRedis(work / "data", appendfsync=args.appendfsync).start()
        procs: list[subprocess.Popen] = []
        try:
            bare_port, gw_port = free_port(), free_port()
            bare = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_server.py"), str(bare_port)])
            procs.append(bare)
            wait_http(f"http://127.0.0.1:{bare_port}/healthz", proc=bare)
            env = {**os.environ, "REDIS_URL": redis.url, "HOTLINE_PORT": str(gw_port), "HOTLINE_DATA_DIR": str(work / "data"),
                   "HOTLINE_RATE_LIMIT_IP_PER_HOUR": "100000000", "HOTLINE_RATE_LIMIT_PHONE_PER_DAY": "100000000",
                   "HOTLINE_LOG_LEVEL": "WARNING", "HOTLINE_BOOTSTRAP_ADMIN_PASSWORD": "bench-admin-password"}
            gateway = subprocess.Popen([sys.executable, "-m", "server.cli", "run"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
            procs.append(gateway)
            wait_http(f"http://127.0.0.1:{gw_port}/healthz", proc=gateway)

            base = measure(f"http://127.0.0.1:{bare_port}/api/v1/requests", args.seconds, args.connections, work)
            gw = measure(f"http://127.0.0.1:{gw_port}/api/v1/requests", args.seconds, args.connections, work)
        finally:
            for p in procs:
                p.terminate()
                p.wait()
            redis.stop()

    ratio = gw["rps"] / base["rps"]
    print(f"intake benchmark: {args.connections} connections, {args.seconds}s each, load from {tool}, Redis AOF {args.appendfsync}")
    print(f"{'':12}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, m in (("bare aiohttp", base), ("gateway", gw)):
        print(f"{name:12}{m['rps']:>10.0f}{m['p50_ms']:>10.2f}{m['p99_ms']:>10.2f}{m['errors']:>10}")
    print(f"ratio gateway/bare throughput: {ratio:.2f}  (target >= 0.35);  gateway p99 {gw['p99_ms']:.1f} ms (target <= 20 ms)")


if __name__ == "__main__":
    main()
