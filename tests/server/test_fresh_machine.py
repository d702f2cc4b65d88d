"""`make run` on a fresh clone: no `../shared` beside it (so no speech model), no network for the
model download. The gateway must come up anyway, with live transcription off and saying so
(console, /readyz, the desk), and a Ctrl-C must stop everything quietly.

The checkout is copied (tracked and untracked, not ignored files: what a clone of the working tree
holds) into a temporary directory with nothing beside it. The copy uses this checkout's Python
environment through a stand-in virtualenv directory (`make run VENV=...`), whose `hotline` runs
`python -m server.cli` from the copy, so the copy's code and default paths are the ones tested.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gateway.embedded_redis import _alive as pid_alive
from gateway.embedded_redis import _read_pid as read_pid
from tests.support.processes import ROOT, free_port

pytestmark = pytest.mark.slow


def _copy_checkout(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if not src.is_file():  # deleted in the working tree
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _stand_in_venv(venv: Path, checkout: Path) -> None:
    """A VENV for the Makefile: this environment's Python, already `installed`."""
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    hotline = venv / "bin" / "hotline"
    hotline.write_text(f'#!/bin/sh\ncd "{checkout}" && exec "{sys.executable}" -m server.cli "$@"\n')
    hotline.chmod(0o755)
    (venv / ".installed-run").touch()  # newer than the copied pyproject.toml (copy2 keeps mtimes)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: connections are refused


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_http(url: str, proc: subprocess.Popen, out: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"`make run` exited with {proc.returncode}:\n{out.read_text(errors='replace')[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout} s:\n{out.read_text(errors='replace')[-3000:]}")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("workers", ["process", "inline"])
def test_make_run_on_a_fresh_clone_without_a_model_serves_with_transcription_off(tmp_path: Path, workers: str) -> None:
    checkout = tmp_path / "clone" / "main"  # nothing beside it: no ../shared
    _copy_checkout(checkout)
    assert not (checkout.parent / "shared").exists()
    venv = tmp_path / "venv"
    _stand_in_venv(venv, checkout)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HOTLINE_", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "MAKEFLAGS", "MFLAGS"))}
    env.update({
        "HOTLINE_PORT": str(port), "HOTLINE_WORKERS": workers,
        # Off this machine's default ports (other gateways may run); nothing answers on the AMI port.
        "HOTLINE_AMI_PORT": str(_closed_port()), "HOTLINE_AUDIOSOCKET_LISTEN": f"127.0.0.1:{free_port()}",
        "PYTHONUNBUFFERED": "1",
    })
    out = tmp_path / "make-run.log"
    dead_mirror = f"http://127.0.0.1:{_closed_port()}/vosk-model-small-cn-0.22.zip"  # offline, without touching the internet
    with out.open("wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen(["make", "--no-print-directory", "run", f"VENV={venv}", f"MODEL_FETCH_ARGS=--url {dead_mirror}"],
                                cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(base + "/healthz", proc, out)
        assert time.monotonic() - started < 60
        status, body = _get(base + "/")
        assert status == 200 and "12345" in body.decode()
        status, _ = _get(base + "/agent")
        assert status == 200
        status, body = _get(base + "/readyz")
        ready = json.loads(body)
        assert status == 200 and ready["status"] == "ready", ready
        assert ready["checks"]["transcription"] == "off: model not found (run: make model)", ready
        assert ready["checks"]["phone"]["transcription"].startswith("off:")
        assert _password(out)  # shown once everything is up
        # The desk learns it from its calls request (channels/phone/static/call-loading.js shows #asr-off-notice).
        added = subprocess.run([sys.executable, "-m", "server.cli", "users", "add", "desk1", "--role", "agent"], cwd=checkout,
                               env={**env, "HOTLINE_NEW_PASSWORD": "desk1-password-9"}, capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
        login = urllib.request.Request(base + "/api/v1/auth/login", data=json.dumps({"username": "desk1", "password": "desk1-password-9"}).encode(),
                                       headers={"Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(login, timeout=10) as r:
            assert r.status == 200
        with opener.open(base + "/api/v1/agent/calls", timeout=10) as r:
            assert json.loads(r.read())["phone"]["transcription"].startswith("off:")
        text = out.read_text(errors="replace")
        assert "通话实时转写未启用" in text and "make model" in text
        assert "hotline users passwd admin" in text
        assert (checkout / "var" / "models" / ".vosk-model-small-cn-0.22.fetch-failed").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole foreground group
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        _stop_leftover_redis(checkout / "var" / "redis")
    deadline = time.monotonic() + 10
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _group_alive(proc.pid), "a process of `make run` outlived the Ctrl-C"
    text = out.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert not _redis_alive(checkout / "var" / "redis"), "the embedded redis outlived the Ctrl-C"

    # The failed download is not tried again on the next start (it says so instead).
    again = subprocess.run(["make", "--no-print-directory", "model-auto", f"VENV={venv}", f"MODEL_FETCH_ARGS=--url {dead_mirror}"],
                           cwd=checkout, env=env, capture_output=True, text=True, timeout=60)
    assert "上次下载失败" in again.stderr and "downloading" not in again.stderr, again.stderr


def _password(out: Path) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.search(r"管理员账号 admin，\S*密码 (\S+)", out.read_text(errors="replace"))
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError("no admin password on the console:\n" + out.read_text(errors="replace")[-3000:])


def _redis_pid(redis_dir: Path) -> int | None:
    return read_pid(redis_dir / "redis.pid")


def _redis_alive(redis_dir: Path) -> bool:
    return pid_alive(_redis_pid(redis_dir))


def _stop_leftover_redis(redis_dir: Path) -> None:
    """Never leave a server behind, even when the test failed."""
    deadline = time.monotonic() + 10
    while _redis_alive(redis_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _redis_alive(redis_dir):
        pid = _redis_pid(redis_dir)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        raise AssertionError("embedded redis still running 10 s after the gateway stopped")


async def test_speech_engine_without_a_model_turns_transcription_off(tmp_path: Path) -> None:
    from speech.recognizer import SpeechEngine

    engine = SpeechEngine(tmp_path / "no-model", workers=1)
    await engine.start()  # no exception: calls go on without words
    try:
        assert engine.transcription == "off: model not found (run: make model)"
        leg = engine.open_leg(8000, lambda event: None)
        leg.feed(b"\0\0" * 800, 8000)
        assert await leg.close() == []
    finally:
        await engine.close()
