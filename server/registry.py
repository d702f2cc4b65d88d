"""The channels this gateway runs: one line per channel package (each defines `CHANNEL`)."""
from __future__ import annotations

import importlib
from functools import cache

from gateway.channel import Channel
from gateway.settings import Settings

CHANNEL_PACKAGES: tuple[str, ...] = (
    "channels.web",
    "channels.wechat",
    "channels.phone",
    "channels.video",
    "channels.partner",
)


@cache
def channels(packages: tuple[str, ...] = CHANNEL_PACKAGES) -> tuple[Channel, ...]:
    found = tuple(importlib.import_module(name).CHANNEL for name in packages)
    names = [c.name for c in found]
    if len(set(names)) != len(names):
        raise ValueError(f"two channels share a name: {names}")
    return found


def settings_from_env() -> Settings:
    """The kernel's settings with every registered channel's section, from the environment."""
    return Settings.from_env(sections=[c.settings for c in channels() if c.settings])
