"""A tiny channel, to show what a new one takes: this package and one line in the registry."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from gateway.channel import Channel


async def ping(_: web.Request) -> web.Response:
    return web.json_response({"channel": "example", "pong": True})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/example/ping", ping, name="example_ping")


CHANNEL = Channel(name="example", setup=setup, package_dir=Path(__file__).parent)
