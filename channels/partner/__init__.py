"""Partner hotlines (京津冀一键互转): transfers to and from Tianjin and Hebei, signed both ways."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from channels.partner import desk, openapi, routes
from channels.partner.directory import partner_directory
from channels.partner.keys import PARTNERS
from channels.partner.outbound import outbound
from channels.partner.settings import PartnerSettings
from gateway.app_keys import REDIS, SETTINGS
from gateway.channel import Channel, OpenApiPart


def _setup(app: web.Application) -> None:
    app[PARTNERS] = partner_directory(app[SETTINGS], app[REDIS])
    routes.setup(app)
    desk.setup(app)


async def _seed(app: web.Application) -> None:
    """The partner directory before any partner hop is delivered (an unknown partner is final)."""
    await app[PARTNERS].seed_if_empty()


CHANNEL = Channel(name="partner", settings=PartnerSettings, setup=_setup, package_dir=Path(__file__).parent, outbound=outbound, prepare=_seed, desk_panel="desk.js", desk_styles=("desk.css",),
                  openapi=lambda: OpenApiPart(openapi.MODELS, openapi.paths, openapi.RESPONSES))
