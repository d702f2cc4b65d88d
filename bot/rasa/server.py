"""A Rasa server process from the cached virtualenv: started with the project's endpoints
(action calls go to the gateway's /rasa/actions with the shared token), bound to loopback
by default, and ready when it answers a message through the REST channel."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from bot.rasa import venv as rasa_venv
from bot.rasa.export import PROJECT
from bot.rasa.model import rasa_env


class RasaServer:
    def __init__(self, model: Path, port: int, action_url: str, token: str = "", host: str = "127.0.0.1",
                 home: Path | None = None, log: Path | None = None) -> None:
        self.model = model
        self.port = port
        self.host = host
        self.action_url = action_url
        self.token = token
        self.home = home
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [str(rasa_venv.rasa_executable(self.home)), "run", "--model", str(self.model),
                "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
                "--interface", self.host, "--port", str(self.port)]

    def env(self) -> dict[str, str]:
        env = rasa_env()
        env["HOTLINE_RASA_ACTION_URL"] = self.action_url
        env["HOTLINE_RASA_ACTION_TOKEN"] = self.token
        return env

    def start(self) -> "RasaServer":
        if self.log is not None:
            self._log_file = open(self.log, "ab")
        out = self._log_file or subprocess.DEVNULL
        self.process = subprocess.Popen(self.command(), cwd=PROJECT, env=self.env(), stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        return self

    def answers(self) -> bool:
        """True once a message goes through NLU and dialogue (utter_greet needs no action call)."""
        request = urllib.request.Request(f"{self.url}/webhooks/rest/webhook", method="POST",
                                         data=json.dumps({"sender": "hotline-readiness", "message": "你好"}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status == 200 and bool(json.loads(response.read()))
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def wait_ready(self, timeout: float = 180.0) -> "RasaServer":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"rasa exited with {self.process.returncode}; see {self.log or 'its output'}")
            if self.answers():
                return self
            time.sleep(0.5)
        raise TimeoutError(f"rasa did not answer within {timeout:g} s; see {self.log or 'its output'}")

    def pause(self) -> None:
        """SIGSTOP: a real, hung Rasa (the socket accepts, nothing answers)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGCONT)
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
