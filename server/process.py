"""What every long-running process of ours does first: settings from the environment, JSON logs,
uvloop when installed, and the configured Redis (or the embedded one)."""
from __future__ import annotations

from collections.abc import Callable

from gateway import log_format
from gateway.redis_client import RedisAddress, redis_address
from gateway.settings import Settings
from server.registry import settings_from_env


def install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    uvloop.install()


def run_process(main: Callable[[Settings, RedisAddress], int]) -> int:
    """`main(settings, redis)` in a configured process; its exit code."""
    settings = settings_from_env()
    log_format.configure(settings.log_level)
    install_uvloop()
    with redis_address(settings) as address:
        return main(settings, address)
