"""The supervisor wall (监督大屏) page, `/supervisor/wall`, and its static files: the page's own
(`/static/wall/`) and the vendored ECharts and Beijing district map (`/static/vendor/`, see
gateway/static/vendor/README.md; no CDN). The page is served to anyone, as the desk is: it logs in
with staff.js and reads its data from `GET /api/v1/supervisor/wall`, which is for supervisors only."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parents[1] / "gateway" / "static"
WALL = STATIC / "wall"
VENDOR = STATIC / "vendor"


async def wall_page(_: web.Request) -> web.FileResponse:
    return web.FileResponse(WALL / "wall.html")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/supervisor/wall", wall_page, name="wall_page")
    r.add_static("/static/wall/", WALL, name="wall_static")
    r.add_static("/static/vendor/", VENDOR, name="vendor_static")
