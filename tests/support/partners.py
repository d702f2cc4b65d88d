"""Two hotlines on loopback ("Beijing" and "Tianjin"), each a real gateway app with its own
Redis database, that know each other through their partner directories (seeded from a file,
as HOTLINE_PARTNER_DIRECTORY does) and share one HMAC key."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from redis.asyncio import Redis

from channels.partner.directory import seed_partners
from channels.partner.signing import signed_headers
from gateway import keys as gateway_keys
from gateway.ticket import Ticket
from gateway.tickets import Tickets
from tests.support.desk import add_user, login
from tests.support.processes import free_port
from tests.support.waiting import eventually

KEY_ID = "jjj-bj-tj-test"
SECRET = "test-secret-bj-tj-0123456789"
KEYS = f"{KEY_ID}={SECRET}"
CITIZEN = {"kind": "complaint", "description": "天津市河西区小区门口夜间施工噪音严重，已持续一周，影响休息",
           "phone": "13812345678", "name": "张三", "district": "朝阳区", "address": "望京街道"}


@dataclass
class Hotline:
    id: str
    base: str
    redis_url: str
    redis: Redis
    agent: aiohttp.ClientSession
    csrf: str
    admin: aiohttp.ClientSession
    admin_csrf: str

    async def api(self, method: str, path: str, body: Any = None, as_admin: bool = False) -> tuple[int, Any]:
        session, csrf = (self.admin, self.admin_csrf) if as_admin else (self.agent, self.csrf)
        async with session.request(method, f"{self.base}{path}", json=body, headers={"X-CSRF-Token": csrf}) as resp:
            return resp.status, await resp.json()

    async def ticket(self, ticket_id: str) -> Ticket:
        return await Tickets(self.redis).get(ticket_id)

    async def ticket_until(self, ticket_id: str, done: Callable[[Ticket], bool], timeout: float = 20.0) -> Ticket:
        return await eventually(lambda: self.ticket(ticket_id), done, timeout=timeout)

    async def submit(self, body: dict[str, Any] | None = None) -> str:
        async with self.agent.post(f"{self.base}/api/v1/requests", json=body or CITIZEN) as resp:
            assert resp.status == 201, await resp.text()
            return (await resp.json())["ticket_id"]

    async def partner_tickets(self) -> list[str]:
        keys = [k.decode() async for k in self.redis.scan_iter(match=gateway_keys.idempotency("partner", "*"))]
        return sorted([(await self.redis.get(k)).decode() for k in keys])

    async def transfer(self, ticket_id: str, partner: str = "tianjin", **extra: Any) -> tuple[int, Any]:
        return await self.api("POST", f"/api/v1/agent/tickets/{ticket_id}/transfer",
                              {"partner": partner, "reason": "诉求发生地在天津市河西区，属天津管辖", **extra})

    async def close(self) -> None:
        await self.agent.close()
        await self.admin.close()
        await self.redis.aclose()


async def edit_partner(hotline: Hotline, partner_id: str, **changes: Any) -> dict[str, Any]:
    """The hotline's admin changes its directory entry for `partner_id`."""
    status, listing = await hotline.api("GET", "/api/v1/admin/partners", as_admin=True)
    assert status == 200, listing
    entry = next(p for p in listing["partners"] if p["id"] == partner_id)
    edit = {k: v for k, v in entry.items() if k not in ("id", "key_configured")} | changes
    status, body = await hotline.api("PUT", f"/api/v1/admin/partners/{partner_id}", edit, as_admin=True)
    assert status == 200, body
    return body


StartApp = Callable[..., Awaitable[str]]


def write_directory(path: Path, bases: dict[str, str]) -> Path:
    """A directory seed file: the 17 hotlines, with `bases` (id -> URL) on loopback and the test key."""
    rows = [p.model_dump() | ({"api_base": bases[p.id], "key_id": KEY_ID} if p.id in bases else {}) for p in seed_partners()]
    path.write_text(yaml.safe_dump(rows, allow_unicode=True), encoding="utf-8")
    return path


async def start_hotline(make_app: StartApp, partner_id: str, redis_url: str, data_dir: Path, ports: dict[str, int], **overrides: Any) -> Hotline:
    """One hotline on `ports[partner_id]`, its directory seeded with every hotline in `ports`."""
    prefix = {"beijing": "BJ", "tianjin": "TJ"}[partner_id]
    data_dir.mkdir(parents=True, exist_ok=True)
    seed = write_directory(data_dir / "partners.yaml", {pid: f"http://127.0.0.1:{port}" for pid, port in ports.items()})
    settings = dict(partner_self=partner_id, partner_keys=KEYS, partner_directory_seed=seed, ticket_prefix=prefix,
                    instance_id=f"gw-{partner_id}", data_dir=data_dir, outbox_backoff_base_seconds=0.2, outbox_backoff_cap_seconds=0.5)
    base = await make_app(redis=redis_url, port=ports[partner_id], **{**settings, **overrides})
    await add_user(redis_url, f"agent-{partner_id}", "agent")
    await add_user(redis_url, f"admin-{partner_id}", "admin")
    agent, csrf = await login(base, f"agent-{partner_id}")
    admin, admin_csrf = await login(base, f"admin-{partner_id}")
    return Hotline(partner_id, base, redis_url, Redis.from_url(redis_url), agent, csrf, admin, admin_csrf)


async def signed_post(http: aiohttp.ClientSession, base: str, path: str, payload: dict[str, Any] | bytes, sender: str = "beijing",
                      secret: str = SECRET, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """A partner API call signed as `sender` would sign it (headers may be overridden after signing)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    sent = {**signed_headers(sender, KEY_ID, secret, "POST", path, body), "Content-Type": "application/json", **(headers or {})}
    async with http.post(f"{base}{path}", data=body, headers=sent) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def pair(make_app: StartApp, redis_url: str, second_redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[Hotline, Hotline]]:
    """Beijing and Tianjin, up and introduced."""
    ports = {"beijing": free_port(), "tianjin": free_port()}
    beijing = await start_hotline(make_app, "beijing", redis_url, tmp_path / "bj", ports)
    tianjin = await start_hotline(make_app, "tianjin", second_redis_url, tmp_path / "tj", ports)
    yield beijing, tianjin
    await beijing.close()
    await tianjin.close()
