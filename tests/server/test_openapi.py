"""The OpenAPI document covers every HTTP API route the app registers."""
from __future__ import annotations

import aiohttp

from gateway.redis_client import RedisAddress
from gateway.settings import Settings
from server.app import create_app

PAGES = {"/", "/track", "/agent", "/kb", "/video", "/supervisor/wall"}


async def test_openapi_lists_every_registered_route(app_url: str, http: aiohttp.ClientSession, tmp_path) -> None:
    async with http.get(f"{app_url}/openapi.json") as r:
        doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    app = create_app(Settings(data_dir=tmp_path), RedisAddress(url="redis://127.0.0.1:1"))
    missing = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if not path or "prefix" in info or path in PAGES or route.method == "HEAD":
            continue
        if route.method.lower() not in doc["paths"].get(path, {}):
            missing.append(f"{route.method} {path}")
    assert not missing, missing
    assert "caseSystemTicket" in doc["webhooks"]
    assert doc["components"]["schemas"]["Ticket"]["properties"]["schema"]["const"] == "hotline.ticket/v1"
