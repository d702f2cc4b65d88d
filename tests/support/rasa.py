"""A real Rasa server for tests: its virtualenv from the cache outside the checkout, the
model trained in this session or taken from the cache (named by a hash of the training
data), and a gateway app on the port Rasa's action endpoint points to."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.rasa import model as rasa_model
from bot.rasa import venv as rasa_venv
from bot.rasa.server import RasaServer
from gateway.redis_client import RedisAddress
from server.app import create_app

ACTION_TOKEN = "test-rasa-action-token"


def require_rasa_venv() -> None:
    """Skip without Rasa's venv on a developer machine; under CI the venv must be there."""
    if rasa_venv.is_complete():
        return
    reason = f"Rasa's virtualenv is not built under {rasa_venv.rasa_home()} (run `hotline rasa setup`)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(reason + "; under CI it must exist (.ci/run builds it)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_rasa(model: Path, gateway_port: int, log: Path) -> RasaServer:
    server = RasaServer(model, free_port(), f"http://127.0.0.1:{gateway_port}/rasa/actions", ACTION_TOKEN, log=log)
    try:
        return server.start().wait_ready()
    except Exception:
        server.stop()
        raise


async def gateway_on(port: int, settings: object) -> TestServer:
    server = TestServer(create_app(settings, RedisAddress(url=settings.redis_url)), host="127.0.0.1", port=port)  # type: ignore[attr-defined]
    await server.start_server()
    return server


def trained_model() -> Path:
    require_rasa_venv()
    return rasa_model.train()
