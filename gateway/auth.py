"""Sessions, role checks and CSRF for the agent desktop and editor routes.

Sessions are random tokens in an HttpOnly, SameSite=Strict cookie, stored in Redis with a
sliding TTL. State-changing requests must echo the session's CSRF token in `X-CSRF-Token`.

Logins are guarded by failure lock-outs (per user name from any address, per address across user
names), checked before any password hash is computed. A session of a user who must change the
password (bootstrap admin, temporary passwords) may only read /auth/me, log out and change it.
"""
from __future__ import annotations

import hmac
import json
import logging
import math
from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.app_keys import RATE_LIMITER, SESSIONS, SETTINGS, USERS
from gateway.client_address import client_address
from gateway.errors import ApiError
from gateway.json_io import json_response, read_model
from gateway.rate_limits import login_lockouts
from gateway.sessions import STAFF_SESSION, Sessions
from gateway.users import PASSWORD_MAX_LENGTH, PasswordRejected, User

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def requires(*roles: str, before_password_change: bool = False) -> Callable[[Handler], Handler]:
    """Route decorator: a session with one of `roles` (any role if none given), and the CSRF
    token on state-changing methods. Until a user who must change the password has done so,
    only routes marked `before_password_change` answer (403 `password_change_required`)."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            sessions: Sessions = request.app[SESSIONS]
            session = await sessions.load(request)
            if session is None:
                raise ApiError(401, "not_authenticated", "登录已失效，请重新登录")
            if session.get("must_change_password") and not before_password_change:
                raise ApiError(403, "password_change_required", "请先修改初始密码后再使用工作台")
            if roles and not set(session["roles"]) & set(roles):
                raise ApiError(403, "forbidden", "您的账号没有执行此操作的权限")
            if request.method not in SAFE_METHODS:
                sent = request.headers.get("X-CSRF-Token", "")
                if not hmac.compare_digest(sent, session["csrf"]):
                    raise ApiError(403, "csrf_failed", "页面已过期，请刷新后重试")
            request[STAFF_SESSION] = session
            return await handler(request)

        return guarded

    return decorate


def actor(request: web.Request) -> str:
    return "agent:" + request[STAFF_SESSION]["user"]


def _locked_out(wait_seconds: int) -> ApiError:
    minutes = max(1, math.ceil(wait_seconds / 60))
    return ApiError(429, "login_locked", f"登录失败次数过多，请 {minutes} 分钟后再试", headers={"Retry-After": str(wait_seconds)})


async def _session_response(request: web.Request, user: User) -> web.Response:
    response = json_response({"user": user.public(), "csrf_token": ""})
    csrf = await request.app[SESSIONS].create(response, user)
    response.text = json.dumps({"user": user.public(), "csrf_token": csrf}, ensure_ascii=False)
    return response


async def _check_password(request: web.Request, username: str, password: str) -> User | None:
    """The password check behind every login lock-out: refused while locked (before any hash is
    computed); otherwise counted as a failure unless the password is right."""
    lockouts = request.app[RATE_LIMITER].lockouts
    address = client_address(request)
    buckets = login_lockouts(request.app[SETTINGS], username, address)
    wait = await lockouts.attempt(*buckets)
    if wait:
        log.warning("login refused: locked out", extra={"username": username, "client": address})
        raise _locked_out(wait)
    user = await request.app[USERS].authenticate(username, password)
    if user is None:
        log.info("login failed", extra={"username": username, "client": address})
    else:
        await lockouts.succeeded(*buckets)
    return user


async def log_in(request: web.Request, username: str, password: str) -> web.Response:
    user = await _check_password(request, username, password)
    if user is None:
        raise ApiError(401, "invalid_credentials", "用户名或密码错误")
    return await _session_response(request, user)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    new_password: str = Field(min_length=1, max_length=4 * PASSWORD_MAX_LENGTH)  # the rules give the clear message


def _field_error(status: int, code: str, field: str, message: str) -> ApiError:
    return ApiError(status, code, message, [{"field": field, "code": code, "message": message}])


@requires(before_password_change=True)
async def change_password(request: web.Request) -> web.Response:
    """POST /api/v1/auth/password: the user's own password. Every session of the user ends (on
    every device); the answer carries a fresh session cookie and CSRF token for this one."""
    body: PasswordChangeIn = await read_model(request, PasswordChangeIn, summary="请填写当前密码和新密码")
    username = request[STAFF_SESSION]["user"]
    users = request.app[USERS]
    # Under the login lock-outs: a left-open desk must not become a password oracle.
    if await _check_password(request, username, body.current_password) is None:
        raise _field_error(422, "current_password_wrong", "current_password", "当前密码不正确")
    if body.new_password == body.current_password:
        raise _field_error(422, "password_unchanged", "new_password", "新密码不能与当前密码相同")
    try:
        await users.set_password(username, body.new_password)
    except PasswordRejected as exc:
        raise _field_error(422, exc.code, "new_password", exc.message_zh) from None
    found = await users.get(username)
    if found is None:
        raise ApiError(401, "not_authenticated", "登录已失效，请重新登录")
    log.info("password changed", extra={"username": username, "client": client_address(request)})
    return await _session_response(request, found[0])
