"""`hotline run` without REDIS_URL: an embedded real Redis under the data dir, AOF on, stopped on
exit, and tickets still there after a restart. `hotline users` works beside a running gateway."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
import json

import pytest

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
        added = subprocess.run([sys.executable, "-m", "gateway.cli", "users", "add", "liu", "--role", "agent", "--display-name", "刘坐席"],
                               env=env, capture_output=True, text=True, timeout=30)
        assert added.returncode == 0, added.stderr
        listed = subprocess.run([sys.executable, "-m", "gateway.cli", "users", "list"], env=env, capture_output=True, text=True, timeout=30)
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
    weak = subprocess.run([sys.executable, "-m", "gateway.cli", "users", "add", "x", "--role", "agent"], env=env, capture_output=True, text=True, timeout=30)
    assert weak.returncode == 2 and "at least 10" in weak.stderr
    env["HOTLINE_NEW_PASSWORD"] = "a-long-password-2"
    assert subprocess.run([sys.executable, "-m", "gateway.cli", "users", "add", "x", "--role", "agent"], env=env, timeout=30).returncode == 0
    assert subprocess.run([sys.executable, "-m", "gateway.cli", "users", "disable", "x"], env=env, timeout=30).returncode == 0
    listed = subprocess.run([sys.executable, "-m", "gateway.cli", "users", "list"], env=env, capture_output=True, text=True, timeout=30)
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
    out = subprocess.run(["pgrep", "-P", str(gateway_pid), "-f", "gateway.cli worker"], capture_output=True, text=True).stdout.split()
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
        _post(gw.base, {"description": "小区电梯又停运了，请尽快处理", "phone": "13612349999"})
        _wait(lambda: 'hotline_delivery_attempts_total{hop="case",outcome="delivered"} 2.0' in _metrics(gw.base))
        assert second_worker != first_worker
    finally:
        gw.stop()
    assert _worker_pid(gw.proc.pid) is None
