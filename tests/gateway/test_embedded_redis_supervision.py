"""The embedded Redis of `hotline run` is supervised: killed, it is started again (same directory,
AOF and socket) and the gateway serves again by itself, with nothing lost. And a Ctrl-C stops
`hotline run` quietly: the server runs in a session of its own, so only the gateway gets SIGINT."""
from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis as sync_redis

from gateway.embedded_redis import EmbeddedRedis
from tests.support.processes import Gateway

pytestmark = pytest.mark.slow


def _pid(redis_dir: Path) -> int | None:
    try:
        pid = int((redis_dir / "redis.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _wait(condition, timeout: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - not yet
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        time.sleep(0.1)


def _status(url: str, data: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def test_killed_server_is_restarted_with_its_data(tmp_path: Path) -> None:
    embedded = EmbeddedRedis(tmp_path).start().supervise(poll_seconds=0.05, backoff_initial=0.05)
    try:
        client = sync_redis.Redis(unix_socket_path=str(embedded.socket), socket_timeout=2)
        client.set("kept", "1")
        first = embedded.process.pid if embedded.process else None
        assert first is not None and os.getpgid(first) != os.getpgid(0), "the server must not share our process group"
        os.kill(first, signal.SIGKILL)
        # The new server answers before _spawn returns and counts the restart, so wait for both.
        _wait(lambda: _pid(embedded.dir) not in (None, first) and client.get("kept") == b"1", 15, "restart with the data")
        _wait(lambda: embedded.restarts >= 1, 15, "the restart counted")
        assert embedded.restarts == 1, "one kill, one restart"
    finally:
        embedded.stop()
    assert _pid(embedded.dir) is None


def test_gateway_serves_again_after_its_redis_was_killed(tmp_path: Path) -> None:
    data = (tmp_path / "data").resolve()
    gw = Gateway(None, data)
    gw.start()
    try:
        status, created = _status(f"{gw.base}/api/v1/requests", {"description": "小区路灯坏了一个月没人修", "phone": "13612349876"})
        assert status == 201
        ticket_id = created["ticket_id"]
        killed = _pid(data / "redis")
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        track = f"{gw.base}/api/v1/track?ticket_id={ticket_id}&phone_last4=9876"
        _wait(lambda: _pid(data / "redis") not in (None, killed), 120, "a new redis-server")
        _wait(lambda: _status(track)[1].get("ticket_id") == ticket_id, 120, "tracking again")
        _wait(lambda: _status(f"{gw.base}/readyz")[0] == 200, 120, "ready again")
        status, again = _status(f"{gw.base}/api/v1/requests", {"description": "路灯修好后又坏了", "phone": "13612349876"})
        assert status == 201 and again["ticket_id"] != ticket_id
        assert "embedded redis exited; restarting it" in gw.log()
    finally:
        gw.stop()
    assert gw.proc is not None and gw.proc.returncode == 0, gw.log()[-3000:]
    assert _pid(data / "redis") is None, "the restarted redis outlived the gateway"


@pytest.mark.parametrize("workers", ["process", "inline"])
def test_ctrl_c_stops_hotline_run_quietly(tmp_path: Path, workers: str) -> None:
    data = (tmp_path / "data").resolve()
    gw = Gateway(None, data, HOTLINE_WORKERS=workers)
    gw.start()
    assert gw.proc is not None
    try:
        if workers == "process":
            _wait(lambda: _status(f"{gw.base}/readyz")[1].get("checks", {}).get("delivery_worker") == "running", 30, "worker up")
        os.killpg(gw.proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the foreground process group
        gw.proc.wait(timeout=30)
    finally:
        gw.kill()
    log = gw.log()
    assert gw.proc.returncode == 0, log[-3000:]
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log[-3000:]
    assert _pid(data / "redis") is None, "embedded redis outlived the gateway"
