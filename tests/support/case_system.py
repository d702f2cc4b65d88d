"""The core case system's side of the status API: reports signed as it signs them (written
here with hmac directly, not with the gateway's signing code), and a forwarded ticket to report on."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import aiohttp
from redis.asyncio import Redis

from gateway.tickets import Tickets
from tests.support.waiting import eventually

UPDATES = "/case-system/v1/updates"


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hotline-Timestamp": ts, "X-Hotline-Signature": "sha256=" + mac}


async def send(http: aiohttp.ClientSession, base: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with http.post(base + UPDATES, data=body, headers=headers) as resp:
        return resp.status, await resp.json()


def encode(update: dict[str, Any], nonce: str | None = None) -> bytes:
    """The body of one request: the report and a fresh nonce (a retry gets a new one)."""
    return json.dumps({**update, "nonce": nonce or secrets.token_urlsafe(18)}, ensure_ascii=False).encode()


async def report(http: aiohttp.ClientSession, base: str, secret: str, update: dict[str, Any],
                 timestamp: int | None = None) -> tuple[int, dict[str, Any]]:
    """One report, as a new request: a fresh nonce, freshly signed."""
    body = encode(update)
    return await send(http, base, body, signed(secret, body, timestamp))


async def file_and_forward(http: aiohttp.ClientSession, base: str, redis_url: str, phone: str = "13812345678") -> tuple[str, str]:
    """A citizen's web request, forwarded by the gateway: its ticket id and case id."""
    body = {"kind": "complaint", "phone": phone, "district": "朝阳区",
            "description": "朝阳区望京西园三区东门外的路灯坏了一个多星期，晚上一片漆黑，老人孩子出行很不安全，请尽快维修。"}
    async with http.post(f"{base}/api/v1/requests", json=body) as resp:
        assert resp.status == 201, await resp.text()
        ticket_id = (await resp.json())["ticket_id"]
    redis = Redis.from_url(redis_url)
    try:
        ticket = await eventually(lambda: Tickets(redis).get(ticket_id), lambda t: t.status == "forwarded", timeout=120)
    finally:
        await redis.aclose()
    return ticket_id, ticket.disposition.case_id  # type: ignore[union-attr]
