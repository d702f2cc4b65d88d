"""The partner directory's admin API: what GET returns, PUT takes back unchanged (the read-only
fields GET adds are accepted and not stored), and a body naming another id is refused."""
from __future__ import annotations

from typing import Any

import aiohttp

from tests.support.desk import add_user, login

KEYS = "jjj-test=test-secret-0123456789abcdef"


async def _call(session: aiohttp.ClientSession, csrf: str, method: str, url: str, body: Any = None) -> tuple[int, Any]:
    async with session.request(method, url, json=body, headers={"X-CSRF-Token": csrf}) as resp:
        return resp.status, await resp.json()


async def test_get_then_put_of_the_same_body_is_accepted(make_app: Any, redis_url: str) -> None:
    base = await make_app(partner_self="beijing", partner_keys=KEYS)
    await add_user(redis_url, "admin1", "admin")
    admin, csrf = await login(base, "admin1")
    try:
        status, listing = await _call(admin, csrf, "GET", f"{base}/api/v1/admin/partners")
        assert status == 200, listing
        listed = next(p for p in listing["partners"] if p["id"] == "tianjin")
        assert {"id", "key_configured"} <= set(listed)

        status, entry = await _call(admin, csrf, "GET", f"{base}/api/v1/admin/partners/tianjin")
        assert status == 200, entry
        assert entry == listed

        # The listing's entry and the single entry, sent back exactly as they came.
        for body in (listed, entry):
            status, saved = await _call(admin, csrf, "PUT", f"{base}/api/v1/admin/partners/tianjin", body)
            assert status == 200, saved
            assert saved == entry
        status, again = await _call(admin, csrf, "GET", f"{base}/api/v1/admin/partners/tianjin")
        assert again == entry

        # An edit made on the GET body is applied; the read-only fields are not stored.
        status, saved = await _call(admin, csrf, "PUT", f"{base}/api/v1/admin/partners/tianjin",
                                    {**entry, "enabled": False, "key_configured": not entry["key_configured"]})
        assert status == 200, saved
        assert saved["enabled"] is False and saved["key_configured"] == entry["key_configured"]

        status, body = await _call(admin, csrf, "PUT", f"{base}/api/v1/admin/partners/tianjin", {**entry, "id": "hebei"})
        assert status == 422 and body["fields"][0]["field"] == "id", body
        status, body = await _call(admin, csrf, "PUT", f"{base}/api/v1/admin/partners/tianjin", {**entry, "secret": "x"})
        assert status == 422, body  # unknown fields are still refused
        status, body = await _call(admin, csrf, "GET", f"{base}/api/v1/admin/partners/nowhere")
        assert (status, body["error"]) == (404, "partner_not_found")
    finally:
        await admin.close()
