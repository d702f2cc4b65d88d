"""Knowledge-base helpers for tests: entries through the real editor API."""
from __future__ import annotations

from typing import Any

import aiohttp


def content(title: str, phrasings: list[str], answer: str, category: str = "测试", **extra: Any) -> dict[str, Any]:
    return {"title": title, "phrasings": phrasings, "answer": answer, "category": category, **extra}


async def call(session: aiohttp.ClientSession, csrf: str, method: str, url: str, body: Any = None) -> tuple[int, Any]:
    async with session.request(method, url, json=body, headers={"X-CSRF-Token": csrf}) as r:
        return r.status, await r.json(content_type=None)


async def publish_new(editor: tuple[aiohttp.ClientSession, str], reviewer: tuple[aiohttp.ClientSession, str], base: str,
                      entry_id: str, body: dict[str, Any]) -> None:
    """Create, submit (editor) and publish (reviewer) one entry; fail loudly on any refusal."""
    status, data = await call(*editor, "POST", f"{base}/api/v1/kb/entries", {"id": entry_id, "content": body})
    assert status == 201, data
    status, data = await call(*editor, "POST", f"{base}/api/v1/kb/entries/{entry_id}/submit")
    assert status == 200, data
    status, data = await call(*reviewer, "POST", f"{base}/api/v1/kb/entries/{entry_id}/publish")
    assert status == 200, data
