"""The partner directory: the 17 Jing-Jin-Ji 12345 hotlines, kept in Redis so every instance
sees an admin's edit at once. Seeded from `data/partners.yaml` on the first start.

Secrets never live in the directory: an entry names its `key_id`, and the shared secret for
that id comes from `HOTLINE_PARTNER_KEYS` (`key_id=secret,...`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from redis.asyncio import Redis

from channels.partner.settings import PartnerSettings
from gateway import keys
from gateway.settings import Settings

SEED = Path(__file__).with_name("data") / "partners.yaml"
DIRECTORY_KEY = keys.P + "partners"
SEED_LOCK = keys.P + "partners:seeded"

# What of a case a partner may receive. The requester's fields pass the consent gate as well.
PERSONAL_FIELDS = ("requester.name", "requester.phone", "requester.callback_phone")
CASE_FIELDS = ("location", "messages", "transcript", "attachments")
ALL_FIELDS = PERSONAL_FIELDS + CASE_FIELDS


class PartnerEdit(BaseModel):
    """An entry as an admin edits it (the id is the path)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=2, max_length=60)
    region: Literal["北京", "天津", "河北"]
    route: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="exten in the Asterisk context `transfer`")
    api_base: str = Field(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$", max_length=200)
    key_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    fields: list[str] = Field(default_factory=lambda: list(ALL_FIELDS), description="allow-list, from " + ", ".join(ALL_FIELDS))
    enabled: bool = True

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ALL_FIELDS))
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(unknown)}")
        return sorted(set(value), key=ALL_FIELDS.index)


class PartnerPut(PartnerEdit):
    """The body of `PUT /api/v1/admin/partners/{id}`: an entry exactly as GET returns it is accepted
    back. The read-only fields GET adds are not stored: `id` must match the path when given,
    `key_configured` (whether `HOTLINE_PARTNER_KEYS` holds the entry's key) is derived and ignored."""

    id: str | None = Field(None, description="read-only: the path's id; when given it must be the same")
    key_configured: bool | None = Field(None, description="read-only, derived from HOTLINE_PARTNER_KEYS; ignored")
    READ_ONLY: ClassVar[frozenset[str]] = frozenset({"id", "key_configured"})

    def editable(self) -> dict[str, object]:
        return self.model_dump(exclude=set(self.READ_ONLY))


class Partner(PartnerEdit):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")

    @property
    def base(self) -> str:
        return self.api_base.rstrip("/")


def parse_keys(raw: str) -> dict[str, str]:
    """`kid=secret,kid2=secret2` -> {kid: secret}. A key shorter than 16 characters is refused."""
    found: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key_id, sep, secret = item.partition("=")
        if not sep or not key_id or len(secret) < 16:
            raise ValueError(f"HOTLINE_PARTNER_KEYS: '{key_id}' needs a secret of at least 16 characters (key_id=secret)")
        found[key_id.strip()] = secret.strip()
    return found


def seed_partners(path: Path | None = None) -> list[Partner]:
    rows = yaml.safe_load((path or SEED).read_text(encoding="utf-8")) or []
    return [Partner.model_validate(row) for row in rows]


class PartnerDirectory:
    def __init__(self, redis: Redis, self_id: str, secrets: dict[str, str], seed: Path | None = None) -> None:
        self.redis = redis
        self.self_id = self_id
        self.secrets = secrets
        self.seed = seed

    async def seed_if_empty(self) -> int:
        if await self.redis.hlen(DIRECTORY_KEY) or not await self.redis.set(SEED_LOCK, "1", nx=True):
            return 0
        partners = seed_partners(self.seed)
        await self.redis.hset(DIRECTORY_KEY, mapping={p.id: p.model_dump_json() for p in partners})
        return len(partners)

    async def all(self) -> list[Partner]:
        raw = await self.redis.hvals(DIRECTORY_KEY)
        partners = [Partner.model_validate_json(r) for r in raw]
        return sorted(partners, key=lambda p: (p.region != "天津", p.region, p.id != "hebei", p.id))

    async def get(self, partner_id: str) -> Partner | None:
        raw = await self.redis.hget(DIRECTORY_KEY, partner_id)
        return Partner.model_validate_json(raw) if raw is not None else None

    async def put(self, partner: Partner) -> Partner | None:
        """Store an entry; returns the one it replaced."""
        previous = await self.redis.hget(DIRECTORY_KEY, partner.id)
        await self.redis.hset(DIRECTORY_KEY, partner.id, partner.model_dump_json())
        return Partner.model_validate_json(previous) if previous is not None else None

    def secret(self, partner: Partner) -> str | None:
        return self.secrets.get(partner.key_id)

    async def me(self) -> Partner | None:
        return await self.get(self.self_id)

    async def peers(self) -> list[Partner]:
        """Partners an agent can transfer to: enabled, not ourselves, with a key configured."""
        return [p for p in await self.all() if p.id != self.self_id and p.enabled and p.key_id in self.secrets]


def partner_directory(settings: Settings, redis: Redis) -> PartnerDirectory:
    partner = settings.section(PartnerSettings)
    return PartnerDirectory(redis, partner.partner_self, parse_keys(partner.partner_keys), partner.partner_directory_seed)


def audit_line(actor: str, before: Partner | None, after: Partner) -> str:
    return json.dumps({"actor": actor, "partner": after.id, "before": before.model_dump() if before else None,
                       "after": after.model_dump()}, ensure_ascii=False)
