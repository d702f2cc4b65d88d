"""The channel contract: what a channel package gives the gateway, and nothing more.

A channel (web, WeChat, phone, video, partner hotlines, …) is a package under `channels/` whose
`__init__` defines `CHANNEL = Channel(...)`. The composition root (`server/`) reads the list of
channel packages from `server/registry.py` and, for each, reads its settings section, calls
`setup` on the web app, asks `outbound` for the delivery targets it owns (in the web process and
in the delivery worker), merges its `openapi` part, serves its `static/` directory at `/static/<name>/` and lists its
desk panel for the agent page. The kernel never imports a channel; a channel never imports
another channel, the bot or the server: it hands what people say to `triage/` and tickets to
`gateway.intake`.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from redis.asyncio import Redis

from gateway.delivery_targets import DeliveryTarget
from gateway.settings import Settings, SettingsSection


@dataclass(frozen=True)
class OpenApiPart:
    """A channel's part of the OpenAPI document: the models its requests are validated with and
    those its responses are shaped by (added to the shared schemas), and its paths, written
    with gateway/openapi_parts.py."""
    models: tuple[type[BaseModel], ...]
    paths: Callable[[], dict[str, Any]]
    responses: tuple[type[BaseModel], ...] = ()


@dataclass(frozen=True)
class Readiness:
    """A channel's part of `/readyz`: `checks` are shown, a non-empty `failing` makes it 503."""
    checks: dict[str, object] = field(default_factory=dict)
    failing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Channel:
    name: str
    """Also its static prefix, `/static/<name>/`, and its label in logs and metrics."""
    setup: Callable[[web.Application], None]
    """Routes, typed state (its own `web.AppKey`s) and its lifecycle (`app.cleanup_ctx`)."""
    package_dir: Path
    """The channel package's directory; `static/` under it is served when it exists."""
    settings: type[SettingsSection] | None = None
    """Its settings section (its own `settings.py`), read from the environment at start-up."""
    outbound: Callable[[Settings, Redis], Mapping[str, DeliveryTarget]] | None = None
    """The outbox hops it delivers, hop name → target (built in every process that delivers)."""
    openapi: Callable[[], OpenApiPart] | None = None
    desk_panel: str | None = None
    """A module in its `static/` that plugs a panel into the agent desk (`AgentDesk.register`)."""
    desk_styles: tuple[str, ...] = ()
    prepare: Callable[[web.Application], Awaitable[None]] | None = None
    """Runs in the gateway's start-up before deliveries and channels start (e.g. seed data the
    outbox needs)."""
    readiness: Callable[[web.Application], Awaitable[Readiness]] | None = None
    start_notice: Callable[[web.Application], str | None] = lambda app: None
    """One line for the operator after `hotline run` starts (e.g. transcription off), or None."""

    @property
    def static_dir(self) -> Path | None:
        path = self.package_dir / "static"
        return path if path.is_dir() else None
