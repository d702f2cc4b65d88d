"""Where the outbox delivers: the core case system over HTTP, or the built-in local inbox.

Both answer with one `DeliveryResult`: delivered (with the case id), retry (5xx, timeout,
refused connection, 408/425/429) or reject (any other 4xx, or a 2xx without a case id:
retrying cannot fix those, so they go to the dead letters for a supervisor).
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp
from redis.asyncio import Redis

from gateway import clock, keys
from gateway.redis_values import text
from gateway.signing import sign
from gateway.ticket import DeliveryAttempt, Ticket

RETRYABLE_4XX = {408, 409, 425, 429}


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Literal["delivered", "retry", "reject"]
    status_code: int | None = None
    case_id: str | None = None
    error: str | None = None
    note: str | None = None  # e.g. a citizen notice kept until they can be reached


class DeliveryTarget(Protocol):
    """Where one outbox hop goes. The outbox hands over the ticket and the hop (`case`,
    `partner:tianjin`, `wx-reply:3`, …); the receiver recognises a redelivery by
    `idempotency_key(ticket.id, hop)`. A target that subclasses this gets the optional hooks'
    defaults."""
    name: str

    async def deliver(self, ticket: Ticket, hop: str) -> DeliveryResult: ...

    def record_delivery(self, ticket: Ticket, hop: str, record: DeliveryAttempt) -> None:
        """Change the ticket when the hop is delivered (in the same write as the ledger entry)."""
        return None

    async def close(self) -> None:
        """Release connections when the delivery worker stops."""
        return None


def idempotency_key(ticket_id: str, hop: str) -> str:
    return f"{ticket_id}:{hop}"


def case_document(ticket: Ticket) -> bytes:
    """What the case system receives: the ticket without our delivery bookkeeping."""
    return ticket.model_dump_json(by_alias=True, exclude={"deliveries"}).encode()


class HttpTarget(DeliveryTarget):
    """A target reached over HTTP: one lazily created client session, and transport failures
    (timeout, refused connection, reset) mapped to retries."""

    name = "http"

    def __init__(self, timeout: float) -> None:
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

    async def post(self, url: str, body: bytes, headers: dict[str, str], classify: Callable[[int, str], DeliveryResult]) -> DeliveryResult:
        try:
            async with self.session.post(url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=self.timeout) as resp:
                return classify(resp.status, await resp.text(errors="replace"))
        except asyncio.TimeoutError:
            return DeliveryResult("retry", error="timeout")
        except aiohttp.ClientError as exc:
            return DeliveryResult("retry", error=f"{type(exc).__name__}: {exc}"[:300])


class CaseSystemTarget(HttpTarget):
    """`POST {CASE_SYSTEM_URL}/tickets`, signed, with an Idempotency-Key."""

    name = "case-system"

    def __init__(self, base_url: str, secret: str, timeout: float) -> None:
        super().__init__(timeout)
        self.url = base_url.rstrip("/") + "/tickets"
        self.secret = secret

    async def deliver(self, ticket: Ticket, hop: str) -> DeliveryResult:
        body = case_document(ticket)
        timestamp = str(int(time.time()))
        headers = {
            "Idempotency-Key": idempotency_key(ticket.id, hop),
            "X-Hotline-Timestamp": timestamp,
            "X-Hotline-Signature": sign(self.secret, timestamp, body),
        }
        return await self.post(self.url, body, headers, classify_receipt)


def classify_receipt(status: int, text: str, id_field: str = "case_id") -> DeliveryResult:
    """2xx carrying the receiver's id in `id_field` = delivered; 5xx and the retryable 4xx =
    retry; any other answer = reject."""
    if 200 <= status < 300:
        try:
            receipt_id = json.loads(text).get(id_field)
        except (ValueError, AttributeError):
            receipt_id = None
        if isinstance(receipt_id, str) and receipt_id:
            return DeliveryResult("delivered", status, case_id=receipt_id)
        return DeliveryResult("reject", status, error=f"2xx without {id_field}")
    if status >= 500 or status in RETRYABLE_4XX:
        return DeliveryResult("retry", status, error=text[:300])
    return DeliveryResult("reject", status, error=text[:300] or f"HTTP {status}")


class LocalInboxTarget(DeliveryTarget):
    """本地收件箱: used when no CASE_SYSTEM_URL is set, so the one-command run works end to end.
    It keeps the same idempotency contract as the real case system."""

    name = "local-inbox"

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def deliver(self, ticket: Ticket, hop: str) -> DeliveryResult:
        ticket_id, key = ticket.id, idempotency_key(ticket.id, hop)
        record = json.dumps(
            {"case_id": f"LOCAL-{ticket_id}", "ticket_id": ticket_id, "received_at": clock.now().isoformat()},
            ensure_ascii=False,
        )
        if await self.redis.hsetnx(keys.LOCAL_INBOX, key, record):
            return DeliveryResult("delivered", 201, case_id=f"LOCAL-{ticket_id}")
        stored = json.loads(text(await self.redis.hget(keys.LOCAL_INBOX, key)))
        return DeliveryResult("delivered", 200, case_id=stored["case_id"])


def related_notice(ticket: Ticket, primary: Ticket) -> dict[str, object] | None:
    """What the case system hears of a merge: the secondary ticket belongs to the primary's
    case. None while the primary's case id is not known yet (its forward is not delivered)."""
    into = getattr(ticket.disposition, "into", None)
    case_id = getattr(primary.disposition, "case_id", None) or (primary.case.case_id if primary.case else None)
    if into != primary.id or not case_id:
        return None
    return {"ticket_id": ticket.id, "related_to": primary.id, "case_id": case_id, "relation": "duplicate",
            "merged_at": ticket.disposition.at.isoformat() if ticket.disposition else None,
            "ticket": json.loads(case_document(ticket))}


async def _primary(redis: Redis, ticket: Ticket) -> Ticket | None:
    into = getattr(ticket.disposition, "into", None)
    raw = await redis.get(keys.ticket(into)) if into else None
    return Ticket.model_validate_json(raw) if raw is not None else None


class CaseSystemRelatedTarget(HttpTarget):
    """`POST {CASE_SYSTEM_URL}/related`: a merged duplicate, signed and keyed like a forward."""

    name = "case-system-related"

    def __init__(self, redis: Redis, base_url: str, secret: str, timeout: float) -> None:
        super().__init__(timeout)
        self.redis = redis
        self.url = base_url.rstrip("/") + "/related"
        self.secret = secret

    async def deliver(self, ticket: Ticket, hop: str) -> DeliveryResult:
        primary = await _primary(self.redis, ticket)
        if primary is None:
            return DeliveryResult("reject", error="the ticket is not merged into a stored ticket")
        notice = related_notice(ticket, primary)
        if notice is None:
            return DeliveryResult("retry", error="the primary ticket's case id is not known yet")
        body = json.dumps(notice, ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {"Idempotency-Key": idempotency_key(ticket.id, hop), "X-Hotline-Timestamp": timestamp,
                   "X-Hotline-Signature": sign(self.secret, timestamp, body)}
        return await self.post(self.url, body, headers, classify_receipt)


class LocalRelatedTarget(DeliveryTarget):
    """The local inbox's side of a merge (no CASE_SYSTEM_URL): the secondary is listed with the
    primary's local case."""

    name = "local-inbox-related"

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def deliver(self, ticket: Ticket, hop: str) -> DeliveryResult:
        primary = await _primary(self.redis, ticket)
        notice = related_notice(ticket, primary) if primary is not None else None
        if notice is None:
            return DeliveryResult("retry", error="the primary ticket's case id is not known yet")
        notice.pop("ticket")
        await self.redis.hsetnx(keys.LOCAL_INBOX_RELATED, idempotency_key(ticket.id, hop), json.dumps(notice, ensure_ascii=False))
        return DeliveryResult("delivered", 200, case_id=str(notice["case_id"]))
