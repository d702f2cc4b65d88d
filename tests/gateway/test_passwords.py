"""Changing and resetting passwords (issue 13 item 13): `hotline users passwd|enable`, the forced
change at the bootstrap admin's first login, and POST /api/v1/auth/password; real sockets to an
in-process gateway, the CLI as a real process on the test database."""
from __future__ import annotations

import os
import subprocess
import sys

import aiohttp
from redis.asyncio import Redis

from gateway.redis_client import RedisAddress
from gateway.users import Users
from server.cli import _bootstrap_admin
from tests.support.desk import PASSWORD, add_user, login

NEW = "a-brand-new-password-7"


def _cli(redis_url: str, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "HOTLINE_NEW_PASSWORD"} | {"REDIS_URL": redis_url, **env}
    return subprocess.run([sys.executable, "-m", "server.cli", "users", *args], input=stdin, env=environ,
                          capture_output=True, text=True, timeout=60)


async def _status(session: aiohttp.ClientSession, method: str, url: str, csrf: str = "", **kw) -> tuple[int, dict]:
    async with session.request(method, url, headers={"X-CSRF-Token": csrf}, **kw) as r:
        return r.status, (await r.json() if r.content_type == "application/json" else {})


async def _try_login(base: str, username: str, password: str) -> int:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password}) as r:
            return r.status


async def test_users_passwd_changes_the_password_and_ends_old_sessions(app_url: str, redis_url: str) -> None:
    await add_user(redis_url, "agent1", "agent")
    old, _ = await login(app_url, "agent1")
    try:
        assert (await _status(old, "GET", f"{app_url}/api/v1/agent/tickets"))[0] == 200
        weak = _cli(redis_url, "passwd", "agent1", "--password-stdin", stdin="short\n")
        assert weak.returncode == 2 and "at least 10" in weak.stderr
        done = _cli(redis_url, "passwd", "agent1", "--password-stdin", stdin=NEW + "\n")
        assert done.returncode == 0, done.stderr
        assert (await _status(old, "GET", f"{app_url}/api/v1/agent/tickets"))[0] == 401  # that session has ended
    finally:
        await old.close()
    assert await _try_login(app_url, "agent1", PASSWORD) == 401
    fresh, _ = await login(app_url, "agent1", NEW)
    try:
        assert (await _status(fresh, "GET", f"{app_url}/api/v1/agent/tickets"))[0] == 200
    finally:
        await fresh.close()
    # From the environment too; an unknown user is an error.
    assert _cli(redis_url, "passwd", "agent1", HOTLINE_NEW_PASSWORD="from-the-environment-9").returncode == 0
    assert await _try_login(app_url, "agent1", "from-the-environment-9") == 200
    missing = _cli(redis_url, "passwd", "nobody", "--password-stdin", stdin=NEW + "\n")
    assert missing.returncode == 2 and "no user nobody" in missing.stderr


async def test_users_disable_then_enable(app_url: str, redis_url: str) -> None:
    await add_user(redis_url, "agent1", "agent")
    assert _cli(redis_url, "disable", "agent1").returncode == 0
    assert await _try_login(app_url, "agent1", PASSWORD) == 401
    enabled = _cli(redis_url, "enable", "agent1")
    assert enabled.returncode == 0 and "enabled agent1" in enabled.stdout
    assert await _try_login(app_url, "agent1", PASSWORD) == 200
    assert _cli(redis_url, "enable", "nobody").returncode == 2


async def test_temporary_password_from_the_cli_must_be_changed(app_url: str, redis_url: str) -> None:
    await add_user(redis_url, "agent1", "agent")
    assert _cli(redis_url, "passwd", "agent1", "--temporary", "--password-stdin", stdin=NEW + "\n").returncode == 0
    session, csrf = await login(app_url, "agent1", NEW)
    try:
        status, body = await _status(session, "GET", f"{app_url}/api/v1/agent/tickets")
        assert status == 403 and body["error"] == "password_change_required"
    finally:
        await session.close()


async def test_bootstrap_admin_must_change_the_password_before_any_staff_api(app_url: str, redis_url: str) -> None:
    first = await _bootstrap_admin(RedisAddress(url=redis_url))
    assert first
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        async with session.post(f"{app_url}/api/v1/auth/login", json={"username": "admin", "password": first}) as r:
            assert r.status == 200
            answer = await r.json()
        assert answer["user"]["must_change_password"] is True
        csrf = answer["csrf_token"]
        for method, path in [("GET", "/api/v1/agent/tickets"), ("GET", "/api/v1/supervisor/dead-letters"),
                             ("GET", "/api/v1/kb/entries"), ("GET", "/api/v1/admin/partners")]:
            status, body = await _status(session, method, f"{app_url}{path}", csrf)
            assert (status, body.get("error")) == (403, "password_change_required"), (path, status, body)
            assert body["message"] == "请先修改初始密码后再使用工作台"
        async with session.ws_connect(f"{app_url}/api/v1/agent/ws", headers={"X-CSRF-Token": csrf}) as _:
            raise AssertionError("the desk socket opened before the password was changed")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 403
    try:
        status, body = await _status(session, "GET", f"{app_url}/api/v1/auth/me")
        assert status == 200 and body["user"]["must_change_password"] is True

        url = f"{app_url}/api/v1/auth/password"
        status, body = await _status(session, "POST", url, csrf, json={"current_password": "not-it-at-all", "new_password": NEW})
        assert (status, body["error"], body["fields"][0]["field"]) == (422, "current_password_wrong", "current_password")
        assert body["message"] == "当前密码不正确"
        for new, code, message in [("short", "password_too_short", "新密码至少需要 10 个字符"),
                                   ("aaaaaaaaaaaa", "password_too_simple", "新密码过于简单：至少要有 4 个不同的字符"),
                                   ("my-admin-password", "password_contains_username", "新密码不能包含用户名"),
                                   (first, "password_unchanged", "新密码不能与当前密码相同")]:
            status, body = await _status(session, "POST", url, csrf, json={"current_password": first, "new_password": new})
            assert (status, body["error"], body["message"]) == (422, code, message)
        assert (await _status(session, "POST", url, "wrong-csrf", json={"current_password": first, "new_password": NEW}))[0] == 403

        status, body = await _status(session, "POST", url, csrf, json={"current_password": first, "new_password": NEW})
        assert status == 200 and body["user"]["must_change_password"] is False
        csrf = body["csrf_token"]
        assert (await _status(session, "GET", f"{app_url}/api/v1/agent/tickets"))[0] == 200
        assert (await _status(session, "GET", f"{app_url}/api/v1/auth/me"))[1]["user"]["must_change_password"] is False
    finally:
        await session.close()
    assert await _try_login(app_url, "admin", first) == 401
    assert await _try_login(app_url, "admin", NEW) == 200


async def test_changing_the_own_password_ends_the_other_sessions(app_url: str, redis_url: str) -> None:
    await add_user(redis_url, "agent1", "agent")
    here, csrf = await login(app_url, "agent1")
    elsewhere, _ = await login(app_url, "agent1")
    try:
        status, body = await _status(here, "POST", f"{app_url}/api/v1/auth/password", csrf,
                                     json={"current_password": PASSWORD, "new_password": NEW})
        assert status == 200, body
        assert (await _status(here, "GET", f"{app_url}/api/v1/agent/tickets"))[0] == 200
        assert (await _status(elsewhere, "GET", f"{app_url}/api/v1/agent/tickets"))[0] == 401
    finally:
        await here.close()
        await elsewhere.close()


async def test_wrong_current_passwords_count_toward_the_lock_out(app_url: str, redis_url: str) -> None:
    await add_user(redis_url, "agent1", "agent")
    session, csrf = await login(app_url, "agent1")
    try:
        url = f"{app_url}/api/v1/auth/password"
        for i in range(10):
            assert (await _status(session, "POST", url, csrf, json={"current_password": f"guess-{i}-xx", "new_password": NEW}))[0] == 422
        status, body = await _status(session, "POST", url, csrf, json={"current_password": PASSWORD, "new_password": NEW})
        assert status == 429 and body["error"] == "login_locked"
    finally:
        await session.close()


async def test_users_store_flags(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        users = Users(redis)
        await users.add("temp", PASSWORD, ["agent"], temporary=True)
        assert (await users.get("temp"))[0].must_change_password
        await users.set_password("temp", NEW)
        assert not (await users.get("temp"))[0].must_change_password
        assert await users.authenticate("temp", NEW) is not None
        assert not await users.set_password("nobody", NEW)
    finally:
        await redis.aclose()
