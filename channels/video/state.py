"""Typed application state of the video channel."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:  # aiortc and PyAV are imported only when the channel is on (lifecycle.setup)
    from channels.video.service import VideoChannel

VIDEO: web.AppKey[VideoChannel | None] = web.AppKey("video")
"""The video channel of this instance (None when HOTLINE_VIDEO is off)."""
