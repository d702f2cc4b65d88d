"""Desktop users: scrypt-hashed passwords and roles, stored in Redis."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass

from redis.asyncio import Redis

from gateway import clock, keys

ROLES = ("agent", "supervisor", "kb_editor", "kb_reviewer", "admin")
# What a desk user can do beyond their roles: sign_language = takes sign-language video sessions.
CAPABILITIES = ("sign_language",)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
# Compared against when the user does not exist, so timing does not reveal valid usernames.
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + base64.b64encode(b"\0" * 32).decode()


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

    def public(self) -> dict:
        return {"username": self.username, "display_name": self.display_name, "roles": sorted(self.roles),
                "capabilities": sorted(self.capabilities)}


class UserError(ValueError):
    pass


class Users:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, username: str, password: str, roles: list[str], display_name: str | None = None,
                  capabilities: list[str] | None = None) -> User:
        if not username.isascii() or not username.replace("_", "").replace(".", "").replace("-", "").isalnum() or len(username) > 64:
            raise UserError("username must be 1-64 ASCII letters, digits, '.', '-' or '_'")
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise UserError(f"roles must be among {', '.join(ROLES)}")
        if set(capabilities or ()) - set(CAPABILITIES):
            raise UserError(f"capabilities must be among {', '.join(CAPABILITIES)}")
        if len(password) < 10:
            raise UserError("password must have at least 10 characters")
        record = {
            "password": hash_password(password),
            "roles": ",".join(sorted(set(roles))),
            "display_name": display_name or username,
            "disabled": "0",
            "created_at": clock.now().isoformat(),
            "capabilities": ",".join(sorted(set(capabilities or ()))),
        }
        if not await self.redis.hsetnx(keys.user(username), "password", record["password"]):
            raise UserError(f"user {username} already exists")
        await self.redis.hset(keys.user(username), mapping=record)
        await self.redis.sadd(keys.USERS_SET, username)
        for capability in capabilities or ():
            await self.redis.sadd(keys.capable_users(capability), username)
        return User(username, record["display_name"], frozenset(roles), False, frozenset(capabilities or ()))

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
        return {n.decode() for n in await self.redis.smembers(keys.capable_users(capability))}

    async def get(self, username: str) -> tuple[User, str] | None:
        raw = await self.redis.hgetall(keys.user(username))
        if not raw:
            return None
        data = {k.decode(): v.decode() for k, v in raw.items()}
        user = User(username, data.get("display_name", username), frozenset(filter(None, data.get("roles", "").split(","))), data.get("disabled") == "1",
                    frozenset(filter(None, data.get("capabilities", "").split(","))))
        return user, data["password"]

    async def authenticate(self, username: str, password: str) -> User | None:
        found = await self.get(username)
        stored = found[1] if found else _DUMMY_HASH
        ok = check_password(password, stored)
        if not found or not ok or found[0].disabled:
            return None
        return found[0]

    async def disable(self, username: str) -> bool:
        if not await self.redis.exists(keys.user(username)):
            return False
        await self.redis.hset(keys.user(username), "disabled", "1")
        # End the user's live sessions at once.
        async for key in self.redis.scan_iter(match=keys.session("*")):
            doc = await self.redis.get(key)
            if doc and json.loads(doc).get("user") == username:
                await self.redis.delete(key)
        return True

    async def list(self) -> list[User]:
        names = sorted(n.decode() for n in await self.redis.smembers(keys.USERS_SET))
        users = []
        for name in names:
            found = await self.get(name)
            if found:
                users.append(found[0])
        return users

    async def count(self) -> int:
        return int(await self.redis.scard(keys.USERS_SET))
