"""WeChat official-account (公众号) channel."""
from __future__ import annotations

from pathlib import Path

from channels.wechat import openapi, routes
from channels.wechat.outbound import outbound
from channels.wechat.settings import WeChatSettings
from gateway.channel import Channel, OpenApiPart

CHANNEL = Channel(name="wechat", settings=WeChatSettings, setup=routes.setup, package_dir=Path(__file__).parent, outbound=outbound,
                  openapi=lambda: OpenApiPart((), openapi.paths))
