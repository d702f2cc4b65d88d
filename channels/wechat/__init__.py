"""WeChat official-account (公众号) channel."""
from __future__ import annotations

from pathlib import Path

from channels.wechat import routes
from channels.wechat.outbound import outbound
from gateway.channel import Channel

CHANNEL = Channel(name="wechat", setup=routes.setup, package_dir=Path(__file__).parent, outbound=outbound)
