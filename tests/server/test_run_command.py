"""`hotline run` without REDIS_URL: an embedded real Redis under the data dir, AOF on, stopped on
exit, and tickets still there after a restart. `hotline users` works beside a running gateway."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request

import aiohttp
import pytest

from tests.support.desk import add_user, login
from tests.support.processes import Gateway

pytestmark = pytest.mark.slow


def _post(base: str, payload: dict) -> dict:
    req = urllib.request.Request(f"{base}/api/v1/requests", data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _redis_pids(redis_dir) -> list[int]:
    """The embedded server's pid from its pidfile, if that process is alive."""
    pidfile = redis_dir / "redis.pid"
    if not pidfile.exists():
        return []
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return []
    return [pid]


def test_embedded_redis_keeps_tickets_across_restarts_and_stops_on_exit(tmp_path) -> None:
    data = (tmp_path / "data").resolve()
    gw = Gateway(None, data)
    gw.start()
    try:
        ticket_id = _post(gw.base, {"description": "咨询居住证办理需要哪些材料", "phone": "13612345678"})["ticket_id"]
        assert _redis_pids(data / "redis"), "embedded redis is not running"
        env = {**os.environ, "HOTLINE_DATA_DIR": str(data), "HOTLINE_NEW_PASSWORD": "a-long-password-1"}
        env.pop("REDIS_URL", None)
        added = subprocess.run([sys.executable, "-m", "server.cli", "users", "add", "liu", "--role", "agent", "--display-name", "刘坐席"],
                               env=env, capture_output=True, text=True, timeout=30)
        assert added.returncode == 0, added.stderr
        listed = subprocess.run([sys.executable, "-m", "server.cli", "users", "list"], env=env, capture_output=True, text=True, timeout=30)
        assert "liu\t刘坐席\tagent\tactive" in listed.stdout
        assert _redis_pids(data / "redis"), "the users command stopped the gateway's redis"
    finally:
        gw.stop()
    assert gw.proc.returncode == 0, gw.log()[-2000:]
    assert not _redis_pids(data / "redis"), "embedded redis outlived the gateway"
    aof = list((data / "redis").glob("*.aof"))
    assert aof and ticket_id.encode() in aof[0].read_bytes()

    again = Gateway(None, data)
    again.start()
    try:
        with urllib.request.urlopen(f"{again.base}/api/v1/track?ticket_id={ticket_id}&phone_last4=5678", timeout=10) as r:
            assert json.loads(r.read())["ticket_id"] == ticket_id
    finally:
        again.stop()


def test_users_disable_ends_login(tmp_path) -> None:
    data = (tmp_path / "data").resolve()
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data), "HOTLINE_NEW_PASSWORD": "short"}
    env.pop("REDIS_URL", None)
    weak = subprocess.run([sys.executable, "-m", "server.cli", "users", "add", "x", "--role", "agent"], env=env, capture_output=True, text=True, timeout=30)
    assert weak.returncode == 2 and "at least 10" in weak.stderr
    env["HOTLINE_NEW_PASSWORD"] = "a-long-password-2"
    assert subprocess.run([sys.executable, "-m", "server.cli", "users", "add", "x", "--role", "agent"], env=env, timeout=30).returncode == 0
    assert subprocess.run([sys.executable, "-m", "server.cli", "users", "disable", "x"], env=env, timeout=30).returncode == 0
    listed = subprocess.run([sys.executable, "-m", "server.cli", "users", "list"], env=env, capture_output=True, text=True, timeout=30)
    assert "x\tx\tagent\tdisabled" in listed.stdout


def test_gateway_killed_hard_leaves_redis_that_the_next_run_adopts(tmp_path) -> None:
    data = (tmp_path / "data").resolve()
    gw = Gateway(None, data)
    gw.start()
    ticket_id = _post(gw.base, {"description": "供暖温度不达标，室内只有十五度", "phone": "13612340000"})["ticket_id"]
    gw.kill(whole_group=False)
    [orphan] = _redis_pids(data / "redis")  # SIGKILL gives no chance to stop it

    again = Gateway(None, data)
    again.start()
    try:
        with urllib.request.urlopen(f"{again.base}/api/v1/track?ticket_id={ticket_id}&phone_last4=0000", timeout=10) as r:
            assert json.loads(r.read())["ticket_id"] == ticket_id
        assert _redis_pids(data / "redis") == [orphan]
    finally:
        again.stop()
    assert not _redis_pids(data / "redis"), "the adopted redis was left running"


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _metrics(base: str) -> str:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
        return r.read().decode()


def _wait(condition, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _worker_pid(gateway_pid: int) -> int | None:
    out = subprocess.run(["pgrep", "-P", str(gateway_pid), "-f", "server.worker_process"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def test_delivery_worker_process_is_supervised_and_its_metrics_are_served(tmp_path, redis_url: str) -> None:
    gw = Gateway(redis_url, tmp_path / "data")  # HOTLINE_WORKERS defaults to a separate process
    gw.start()
    try:
        first_worker = _wait(lambda: _worker_pid(gw.proc.pid))
        _post(gw.base, {"description": "小区电梯经常停运，物业不管", "phone": "13612349999"})
        delivered = 'hotline_delivery_attempts_total{hop="case",outcome="delivered"} 1.0'
        _wait(lambda: delivered in _metrics(gw.base))  # counted in the worker, served by the web process

        os.kill(first_worker, 9)
        second_worker = _wait(lambda: (pid := _worker_pid(gw.proc.pid)) and pid != first_worker and pid)
        ready = _wait(lambda: (r := _get_json(f"{gw.base}/readyz"))["checks"].get("delivery_worker") == "running" and r)
        assert ready["checks"]["delivery_worker_restarts"] == 1
        _post(gw.base, {"description": "小区电梯又停运了，请尽快处理", "phone": "13612348888"})  # another citizen: not a duplicate
        _wait(lambda: 'hotline_delivery_attempts_total{hop="case",outcome="delivered"} 2.0' in _metrics(gw.base))
        assert second_worker != first_worker
    finally:
        gw.stop()
    assert _worker_pid(gw.proc.pid) is None


# A worker that dies at once three times, then runs "healthily" (longer than healthy_after) and
# dies, then dies at once again: each run appends a line to the file named in argv[1].
_FLAKY_WORKER = """
import sys, time
runs = open(sys.argv[1], "a+")
runs.seek(0)
n = len(runs.read().splitlines())
runs.write("run\\n")
runs.close()
if n == 3:
    time.sleep(1.5)
sys.exit(1)
"""


async def test_worker_restart_delay_resets_after_a_healthy_run(tmp_path) -> None:
    import asyncio

    from server.worker_process import WorkerSupervisor

    runs = tmp_path / "runs"
    supervisor = WorkerSupervisor(os.environ, command=[sys.executable, "-c", _FLAKY_WORKER, str(runs)],
                                  healthy_after=1.0, backoff_initial=0.05, backoff_max=5.0)
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))
    try:
        await asyncio.wait_for(_until(lambda: len(supervisor.delays) >= 6), timeout=30)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await supervisor.shutdown()
    # 3 quick deaths double the delay; the 4th run was healthy, so its death starts over at 0.05 s.
    assert supervisor.delays[:6] == [0.05, 0.1, 0.2, 0.05, 0.1, 0.2], supervisor.delays


async def _until(condition) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    while not condition():
        await asyncio.sleep(0.02)


async def test_worker_delivers_at_once_and_routes_once_the_knowledge_index_is_loaded(tmp_path, redis_url: str, make_app, monkeypatch) -> None:
    """A (re)started worker does not wait for the knowledge index before delivering: outbox entries
    go out at once, entries the bot must assess wait for the index."""
    import asyncio

    from redis.asyncio import Redis

    from gateway import keys
    from gateway.clock import now
    from gateway.redis_client import RedisAddress
    from gateway.ticket import HistoryEvent
    from knowledge_base.live import LiveKnowledge
    from server import worker_process
    from tests.conftest import settings_for

    base = await make_app(workers="off")  # the web process only: intake, no router or outbox here
    req = urllib.request.Request(f"{base}/api/v1/requests", data=json.dumps({"description": "小区门口的路灯坏了", "phone": "13612341111"}).encode(),
                                 headers={"Content-Type": "application/json"})
    ticket_id = json.loads(await asyncio.to_thread(lambda: urllib.request.urlopen(req, timeout=10).read()))["ticket_id"]
    redis = Redis.from_url(redis_url)
    settings = settings_for(tmp_path, redis_url, instance_id="test-w")
    await worker_process.build_outbox(settings, redis, worker_process.Tickets(redis), worker_process.Metrics()).enqueue(
        ticket_id, "case", HistoryEvent(at=now(), actor="test", event="routed", detail={}))

    index_may_load = asyncio.Event()
    real_refresh = LiveKnowledge.refresh

    async def slow_refresh(self: LiveKnowledge) -> None:
        await index_may_load.wait()  # an index that takes long to build
        await real_refresh(self)

    monkeypatch.setattr(LiveKnowledge, "refresh", slow_refresh)
    worker = asyncio.create_task(worker_process.run_worker(settings, RedisAddress(url=redis_url)))
    try:
        async def delivered() -> None:
            while not await redis.hexists(keys.LOCAL_INBOX, f"{ticket_id}:case"):
                await asyncio.sleep(0.05)

        async def unrouted() -> int:  # read but not acknowledged, or not read yet
            [group] = [g for g in await redis.xinfo_groups(keys.INTAKE_STREAM) if g["name"] in (keys.ROUTER_GROUP, keys.ROUTER_GROUP.encode())]
            return int(group["pending"]) + int(group.get("lag") or 0)

        await asyncio.wait_for(delivered(), timeout=30)  # before the index exists
        await asyncio.sleep(0.5)
        assert await unrouted() == 1, "the form's router entry must wait for the knowledge index"
        index_may_load.set()

        async def routed() -> None:
            while await unrouted():
                await asyncio.sleep(0.05)

        await asyncio.wait_for(routed(), timeout=20)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await redis.aclose()


async def test_a_stopping_gateway_tells_open_desks_it_is_going_away(tmp_path, redis_url: str) -> None:
    """SIGTERM (a deploy, `docker stop`): open desk sockets are closed as "going away" (1001),
    so the desks reconnect to another instance at once instead of hanging until the server's
    shutdown timeout cuts them off."""
    gw = Gateway(redis_url, tmp_path / "data", HOTLINE_WORKERS="inline")
    gw.start(timeout=60)
    try:
        await add_user(redis_url, "shift-agent", "agent")
        session, csrf = await login(gw.base, "shift-agent")
        async with session, session.ws_connect(f"{gw.base}/api/v1/agent/ws", headers={"X-CSRF-Token": csrf}) as ws:
            hello = await ws.receive_json(timeout=30)
            assert hello["type"] == "hello"
            assert gw.proc is not None
            gw.proc.send_signal(signal.SIGTERM)
            closing = await ws.receive(timeout=30)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
            assert ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
        assert await asyncio.to_thread(gw.proc.wait, 30) == 0
    finally:
        gw.stop()
