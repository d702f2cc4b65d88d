"""Staff sessions: random tokens in an HttpOnly, SameSite=Strict cookie, stored in Redis with a
sliding TTL, each with the CSRF token state-changing requests must echo."""
from __future__ import annotations

import json
import secrets
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from gateway import keys
from gateway.users import User

COOKIE = "hl_session"


class Sessions:
    def __init__(self, redis: Redis, ttl_seconds: int, cookie_secure: bool) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self.cookie_secure = cookie_secure

    async def create(self, response: web.StreamResponse, user: User) -> str:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        doc = {"user": user.username, "roles": sorted(user.roles), "display_name": user.display_name, "csrf": csrf,
               "must_change_password": user.must_change_password}
        await self.redis.set(keys.session(token), json.dumps(doc, ensure_ascii=False), ex=self.ttl)
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=self.cookie_secure, path="/", max_age=self.ttl)
        return csrf

    async def load(self, request: web.Request) -> dict[str, Any] | None:
        token = request.cookies.get(COOKIE)
        if not token or len(token) > 100:
            return None
        key = keys.session(token)
        doc = await self.redis.get(key)
        if doc is None:
            return None
        await self.redis.expire(key, self.ttl)
        return json.loads(doc)

    async def destroy(self, request: web.Request, response: web.StreamResponse) -> None:
        token = request.cookies.get(COOKIE)
        if token:
            await self.redis.delete(keys.session(token))
        response.del_cookie(COOKIE, path="/")


STAFF_SESSION = web.RequestKey("session", dict[str, Any])
"""The logged-in staff member of a request (user, roles, display_name, csrf), set by `requires`."""
