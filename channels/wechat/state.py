"""Typed application state of the WeChat channel."""
from __future__ import annotations

from aiohttp import web

from channels.wechat.service import WeChatChannel

WECHAT = web.AppKey("wechat", WeChatChannel)
