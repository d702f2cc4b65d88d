"""Desktop users: scrypt-hashed passwords and roles, stored in Redis.

A user whose password was set by someone else (the bootstrap `admin`, `hotline users add/passwd
--temporary`) carries `must_change_password`: the desk lets them do nothing but change it.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from gateway import clock, keys
from gateway.redis_values import text, text_fields

ROLES = ("agent", "supervisor", "kb_editor", "kb_reviewer", "admin")
# What a desk user can do beyond their roles: sign_language = takes sign-language video sessions.
CAPABILITIES = ("sign_language",)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
# Compared against when the user does not exist, so timing does not reveal valid usernames.
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + base64.b64encode(b"\0" * 32).decode()


PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256  # what the login form accepts
# The very commonest long passwords (leaked-password lists); refused even though long enough.
_COMMON = {
    "1234567890", "12345678910", "0123456789", "1234567890a", "a1234567890", "qwertyuiop", "1qaz2wsx3edc",
    "password123", "password1234", "passw0rd123", "iloveyou123", "admin12345", "admin123456", "administrator",
    "abc1234567", "abcd123456", "qwerty123456", "1q2w3e4r5t", "woaini1314", "5201314520", "changeme123",
}


class PasswordRejected(ValueError):
    """A password that breaks the rules: `code` for machines, `message` (English, CLI) and
    `message_zh` (the desk)."""

    def __init__(self, code: str, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.code = code
        self.message_zh = message_zh


def check_password_rules(password: str, username: str | None = None) -> None:
    """The one set of password rules (CLI, desk, bootstrap): raises PasswordRejected."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordRejected("password_too_short", f"password must have at least {PASSWORD_MIN_LENGTH} characters",
                               f"新密码至少需要 {PASSWORD_MIN_LENGTH} 个字符")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordRejected("password_too_long", f"password must have at most {PASSWORD_MAX_LENGTH} characters",
                               f"新密码不能超过 {PASSWORD_MAX_LENGTH} 个字符")
    if len(set(password)) < 4:
        raise PasswordRejected("password_too_simple", "password must use at least 4 different characters",
                               "新密码过于简单：至少要有 4 个不同的字符")
    if password.lower() in _COMMON:
        raise PasswordRejected("password_too_common", "password is one of the most common passwords",
                               "新密码是常见密码，容易被猜中，请换一个")
    if username and username.lower() in password.lower():
        raise PasswordRejected("password_contains_username", "password must not contain the user name",
                               "新密码不能包含用户名")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}${salt}${digest}".format(
        **_SCRYPT, salt=base64.b64encode(salt).decode(), digest=base64.b64encode(digest).decode()
    )


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(actual, base64.b64decode(digest))


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    roles: frozenset[str]
    disabled: bool
    capabilities: frozenset[str] = frozenset()
    must_change_password: bool = False

    def public(self) -> dict:
        return {"username": self.username, "display_name": self.display_name, "roles": sorted(self.roles),
                "capabilities": sorted(self.capabilities), "must_change_password": self.must_change_password}


class UserError(ValueError):
    pass


class Users:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, username: str, password: str, roles: list[str], display_name: str | None = None,
                  capabilities: list[str] | None = None, temporary: bool = False) -> User:
        """`temporary`: the user must change the password at the first login."""
        if not username.isascii() or not username.replace("_", "").replace(".", "").replace("-", "").isalnum() or len(username) > 64:
            raise UserError("username must be 1-64 ASCII letters, digits, '.', '-' or '_'")
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise UserError(f"roles must be among {', '.join(ROLES)}")
        if set(capabilities or ()) - set(CAPABILITIES):
            raise UserError(f"capabilities must be among {', '.join(CAPABILITIES)}")
        try:
            check_password_rules(password)
        except PasswordRejected as exc:
            raise UserError(str(exc)) from None
        record: dict[str, str] = {
            "password": hash_password(password),
            "roles": ",".join(sorted(set(roles))),
            "display_name": display_name or username,
            "disabled": "0",
            "created_at": clock.now().isoformat(),
            "capabilities": ",".join(sorted(set(capabilities or ()))),
            "must_change_password": "1" if temporary else "0",
        }
        if not await self.redis.hsetnx(keys.user(username), "password", record["password"]):
            raise UserError(f"user {username} already exists")
        await self.redis.hset(keys.user(username), mapping=cast(Mapping[Any, Any], record))  # the stubs want a mapping invariant in wider types
        await self.redis.sadd(keys.USERS_SET, username)
        for capability in capabilities or ():
            await self.redis.sadd(keys.capable_users(capability), username)
        return User(username, record["display_name"], frozenset(roles), False, frozenset(capabilities or ()), temporary)

    async def set_capability(self, username: str, capability: str, on: bool) -> bool:
        """Grant or revoke a capability; the per-capability set lets a channel find its agents in one read."""
        if capability not in CAPABILITIES:
            raise UserError(f"capabilities must be among {', '.join(CAPABILITIES)}")
        found = await self.get(username)
        if found is None:
            return False
        caps = set(found[0].capabilities) | {capability} if on else set(found[0].capabilities) - {capability}
        await self.redis.hset(keys.user(username), "capabilities", ",".join(sorted(caps)))
        if on:
            await self.redis.sadd(keys.capable_users(capability), username)
        else:
            await self.redis.srem(keys.capable_users(capability), username)
        return True

    async def with_capability(self, capability: str) -> set[str]:
        return {text(n) for n in await self.redis.smembers(keys.capable_users(capability))}

    async def get(self, username: str) -> tuple[User, str] | None:
        raw = await self.redis.hgetall(keys.user(username))
        if not raw:
            return None
        data = text_fields(raw)
        user = User(username, data.get("display_name", username), frozenset(filter(None, data.get("roles", "").split(","))), data.get("disabled") == "1",
                    frozenset(filter(None, data.get("capabilities", "").split(","))), data.get("must_change_password") == "1")
        return user, data["password"]

    async def authenticate(self, username: str, password: str) -> User | None:
        found = await self.get(username)
        stored = found[1] if found else _DUMMY_HASH
        ok = await asyncio.to_thread(check_password, password, stored)  # scrypt: tens of ms, off the event loop
        if not found or not ok or found[0].disabled:
            return None
        return found[0]

    async def disable(self, username: str) -> bool:
        if not await self.redis.exists(keys.user(username)):
            return False
        await self.redis.hset(keys.user(username), "disabled", "1")
        await self.end_sessions(username)  # at once, not at the session's expiry
        return True

    async def enable(self, username: str) -> bool:
        if not await self.redis.exists(keys.user(username)):
            return False
        await self.redis.hset(keys.user(username), "disabled", "0")
        return True

    async def set_password(self, username: str, password: str, temporary: bool = False) -> bool:
        """Set a new password (the rules of check_password_rules) and end every session of the user.
        `temporary`: set by someone else, to be changed at the next login. False if no such user."""
        if not await self.redis.exists(keys.user(username)):
            return False
        check_password_rules(password, username)
        await self.redis.hset(keys.user(username), mapping={
            "password": hash_password(password), "must_change_password": "1" if temporary else "0",
            "password_changed_at": clock.now().isoformat(),
        })
        await self.end_sessions(username)
        return True

    async def end_sessions(self, username: str) -> int:
        """Delete every live session of `username`; returns how many."""
        ended = 0
        async for key in self.redis.scan_iter(match=keys.session("*"), count=500):
            doc = await self.redis.get(key)
            if doc and json.loads(doc).get("user") == username:
                ended += await self.redis.delete(key)
        return ended

    async def list(self) -> list[User]:
        names = sorted(text(n) for n in await self.redis.smembers(keys.USERS_SET))
        users = []
        for name in names:
            found = await self.get(name)
            if found:
                users.append(found[0])
        return users

    async def count(self) -> int:
        return int(await self.redis.scard(keys.USERS_SET))
