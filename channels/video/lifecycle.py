"""The video channel on the app: built when HOTLINE_VIDEO is on (aiortc is imported only then),
started after the gateway's own start-up and stopped before it."""
from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from channels.video import routes
from channels.video.settings import VideoSettings
from channels.video.state import VIDEO
from gateway.app_keys import BLOBS, INTAKE, REDIS, SETTINGS, TICKETS, USERS


def setup(app: web.Application) -> None:
    if app[SETTINGS].section(VideoSettings).video:
        from channels.video.service import VideoChannel

        app[VIDEO] = VideoChannel(app[SETTINGS], app[REDIS], app[INTAKE], app[TICKETS], app[BLOBS], app[USERS])
    else:
        app[VIDEO] = None
    app.cleanup_ctx.append(_run)
    routes.setup(app)


async def _run(app: web.Application) -> AsyncIterator[None]:
    video = app[VIDEO]
    if video is not None:
        await video.start()
    yield
    if video is not None:
        await video.stop()
