"""Web channel: the citizen portal's request form, request tracking, the web chat and their 回访."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from channels.web import chat, followup, openapi, outbound, routes
from channels.web.settings import WebSettings
from gateway.channel import Channel, OpenApiPart


def _setup(app: web.Application) -> None:
    routes.setup(app)
    chat.setup(app)
    followup.setup(app)


CHANNEL = Channel(name="web", settings=WebSettings, outbound=outbound.outbound, setup=_setup, package_dir=Path(__file__).parent,
                  openapi=lambda: OpenApiPart(openapi.MODELS, openapi.paths, openapi.RESPONSES))
