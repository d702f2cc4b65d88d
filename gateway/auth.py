"""Sessions, role checks and CSRF for the agent desktop and editor routes.

Sessions are random tokens in an HttpOnly, SameSite=Strict cookie, stored in Redis with a
sliding TTL. State-changing requests must echo the session's CSRF token in `X-CSRF-Token`.
"""
from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from gateway import keys
from gateway.errors import ApiError
from gateway.users import User

COOKIE = "hl_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Sessions:
    def __init__(self, redis: Redis, ttl_seconds: int, cookie_secure: bool) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self.cookie_secure = cookie_secure

    async def create(self, response: web.StreamResponse, user: User) -> str:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        doc = {"user": user.username, "roles": sorted(user.roles), "display_name": user.display_name, "csrf": csrf}
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


def requires(*roles: str) -> Callable[[Handler], Handler]:
    """Route decorator: a session with one of `roles` (any role if none given), and the CSRF
    token on state-changing methods."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            sessions: Sessions = request.app["sessions"]
            session = await sessions.load(request)
            if session is None:
                raise ApiError(401, "not_authenticated", "登录已失效，请重新登录")
            if roles and not set(session["roles"]) & set(roles):
                raise ApiError(403, "forbidden", "您的账号没有执行此操作的权限")
            if request.method not in SAFE_METHODS:
                sent = request.headers.get("X-CSRF-Token", "")
                if not hmac.compare_digest(sent, session["csrf"]):
                    raise ApiError(403, "csrf_failed", "页面已过期，请刷新后重试")
            request["session"] = session
            return await handler(request)

        return guarded

    return decorate


def actor(request: web.Request) -> str:
    return "agent:" + request["session"]["user"]
