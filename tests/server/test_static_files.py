"""Pages and their ES modules are revalidated on every load, so that after an upgrade a browser
never runs a cached module against new ones (a desk split into modules breaks when mixed)."""
from __future__ import annotations

import aiohttp
import pytest

PATHS = ["/agent", "/static/agent/agent.js", "/static/phone/desk.js", "/static/common/staff.js", "/kb", "/"]


@pytest.mark.parametrize("path", PATHS)
async def test_static_files_are_revalidated_and_unchanged_ones_answer_304(app_url: str, http: aiohttp.ClientSession, path: str) -> None:
    async with http.get(app_url + path) as r:
        assert r.status == 200
        assert r.headers["Cache-Control"] == "no-cache"
        validators = {name: r.headers[header] for name, header in (("If-None-Match", "ETag"), ("If-Modified-Since", "Last-Modified"))
                      if header in r.headers}
    assert validators, "a static file needs a validator, or every load downloads it again"
    async with http.get(app_url + path, headers=validators) as again:
        assert again.status == 304

