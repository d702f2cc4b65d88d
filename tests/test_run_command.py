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
    gw.kill()
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
