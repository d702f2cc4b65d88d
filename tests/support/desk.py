"""Desk helpers: create users directly through the Users store and log in over HTTP."""
from __future__ import annotations

import aiohttp
from redis.asyncio import Redis

from gateway.users import Users

PASSWORD = "correct-horse-battery"


async def add_user(redis_url: str, username: str, *roles: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await Users(redis).add(username, PASSWORD, list(roles))
    finally:
        await redis.aclose()


async def login(base: str, username: str, password: str = PASSWORD) -> tuple[aiohttp.ClientSession, str]:
    """A logged-in client session (cookie jar) and its CSRF token."""
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password}) as resp:
        assert resp.status == 200, await resp.text()
        csrf = (await resp.json())["csrf_token"]
    return session, csrf
