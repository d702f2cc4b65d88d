"""Typed application state of the video channel."""
from __future__ import annotations

from aiohttp import web

from channels.video.service import VideoChannel

VIDEO: web.AppKey[VideoChannel | None] = web.AppKey("video")
"""The video channel of this instance (None when HOTLINE_VIDEO is off)."""
