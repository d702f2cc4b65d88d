"""Real processes for tests: gateway instances and the case receiver, on free loopback ports."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.05)
    raise TimeoutError(url)


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], health_url: str, log_path: Path) -> None:
        self.args = args
        self.env = env
        self.health_url = health_url
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "Proc":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        wait_http(self.health_url, timeout, self.proc)
        return self

    def kill(self, whole_group: bool = True) -> None:
        """SIGKILL, as in a crash: no cleanup at all. By default the whole process group (the
        gateway and its delivery worker, and an embedded Redis if it started one) dies at once."""
        if self.proc and self.proc.poll() is None:
            if whole_group:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, timeout: float = 30.0) -> "Proc":
        self.stop()
        return self.start(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Gateway(Proc):
    def __init__(self, redis_url: str | None, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            "HOTLINE_PORT": str(self.port),
            "HOTLINE_DATA_DIR": str(data_dir),
            "HOTLINE_RATE_LIMIT_IP_PER_HOUR": "100000",
            "HOTLINE_RATE_LIMIT_PHONE_PER_DAY": "100000",
            "HOTLINE_BOOTSTRAP_ADMIN_PASSWORD": "admin-password-1",
            "HOTLINE_KB_SEED": "0",  # tests that need knowledge create it through the editor API
            "HOTLINE_PHONE": "0",  # no AMI peer unless a test starts one and says so
            "PYTHONUNBUFFERED": "1",
        }
        full_env.pop("REDIS_URL", None)
        if redis_url:
            full_env["REDIS_URL"] = redis_url
        full_env.update(env)
        data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__([sys.executable, "-m", "server.cli", "run"], full_env, self.base + "/healthz", data_dir / f"gateway-{self.port}.log")


class CaseReceiver(Proc):
    def __init__(self, secret: str, log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [sys.executable, "-m", "tests.support.case_receiver", "--port", str(self.port), "--secret", secret,
             "--state", str(log_dir / f"receiver-{self.port}.json")],
            {**os.environ}, self.base + "/_stats", log_dir / f"receiver-{self.port}.log",
        )


class SpeechNodeProc(Proc):
    """`hotline speech-node` on free loopback ports; started means registered (its /readyz)."""

    def __init__(self, redis_url: str, data_dir: Path, name: str, **env: str) -> None:
        self.name = name
        self.http_port = free_port()
        self.audio_port = free_port()
        full_env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "HOTLINE_DATA_DIR": str(data_dir),
            "HOTLINE_INSTANCE_ID": name,
            "HOTLINE_SPEECH_NODE_HTTP": f"127.0.0.1:{self.http_port}",
            "HOTLINE_AUDIOSOCKET_LISTEN": f"127.0.0.1:{self.audio_port}",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__([sys.executable, "-m", "server.cli", "speech-node"], full_env,
                         f"http://127.0.0.1:{self.http_port}/readyz", data_dir / f"speech-node-{name}.log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.audio_port}"
