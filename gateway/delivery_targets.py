"""Where the outbox delivers: the core case system over HTTP, or the built-in local inbox.

Both answer with one `DeliveryResult`: delivered (with the case id), retry (5xx, timeout,
refused connection, 408/425/429) or reject (any other 4xx, or a 2xx without a case id:
retrying cannot fix those, so they go to the dead letters for a supervisor).
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp
from redis.asyncio import Redis

from gateway import clock, keys
from gateway.signing import sign

RETRYABLE_4XX = {408, 409, 425, 429}


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Literal["delivered", "retry", "reject"]
    status_code: int | None = None
    case_id: str | None = None
    error: str | None = None


class DeliveryTarget(Protocol):
    name: str

    async def deliver(self, body: bytes, idempotency_key: str) -> DeliveryResult: ...


class CaseSystemTarget:
    """`POST {CASE_SYSTEM_URL}/tickets`, signed, with an Idempotency-Key."""

    name = "case-system"

    def __init__(self, base_url: str, secret: str, timeout: float) -> None:
        self.url = base_url.rstrip("/") + "/tickets"
        self.secret = secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def deliver(self, body: bytes, idempotency_key: str) -> DeliveryResult:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "X-Hotline-Timestamp": timestamp,
            "X-Hotline-Signature": sign(self.secret, timestamp, body),
        }
        try:
            async with self.session.post(self.url, data=body, headers=headers, timeout=self.timeout) as resp:
                text = await resp.text(errors="replace")
                return _classify(resp.status, text)
        except asyncio.TimeoutError:
            return DeliveryResult("retry", error="timeout")
        except aiohttp.ClientError as exc:
            return DeliveryResult("retry", error=f"{type(exc).__name__}: {exc}"[:300])


def _classify(status: int, text: str) -> DeliveryResult:
    if 200 <= status < 300:
        try:
            case_id = json.loads(text).get("case_id")
        except (ValueError, AttributeError):
            case_id = None
        if isinstance(case_id, str) and case_id:
            return DeliveryResult("delivered", status, case_id=case_id)
        return DeliveryResult("reject", status, error="2xx without case_id")
    if status >= 500 or status in RETRYABLE_4XX:
        return DeliveryResult("retry", status, error=text[:300])
    return DeliveryResult("reject", status, error=text[:300] or f"HTTP {status}")


class LocalInboxTarget:
    """本地收件箱: used when no CASE_SYSTEM_URL is set, so the one-command run works end to end.
    It keeps the same idempotency contract as the real case system."""

    name = "local-inbox"

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def deliver(self, body: bytes, idempotency_key: str) -> DeliveryResult:
        ticket_id = json.loads(body)["id"]
        record = json.dumps(
            {"case_id": f"LOCAL-{ticket_id}", "ticket_id": ticket_id, "received_at": clock.now().isoformat()},
            ensure_ascii=False,
        )
        if await self.redis.hsetnx(keys.LOCAL_INBOX, idempotency_key, record):
            return DeliveryResult("delivered", 201, case_id=f"LOCAL-{ticket_id}")
        stored = json.loads(await self.redis.hget(keys.LOCAL_INBOX, idempotency_key))
        return DeliveryResult("delivered", 200, case_id=stored["case_id"])
