"""HMAC-SHA256 request signatures shared with the core case system, and the replay guard every
signed inbound API uses (the case system's status reports here, the partner hotlines' API in
channels/partner/signing.py): a time window on the timestamp and a memory of what was used."""
from __future__ import annotations

import hashlib
import hmac
import time

from redis.asyncio import Redis

SIGNATURE_PREFIX = "sha256="
WINDOW_SECONDS = 300
NONCE_TTL_SECONDS = 2 * WINDOW_SECONDS + 60  # longer than any timestamp we still accept


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Signature over `<timestamp>.<body>`, sent as `X-Hotline-Signature: sha256=<hex>`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def within_window(timestamp: int, now: float | None = None) -> bool:
    """A signed request's unix timestamp is at most WINDOW_SECONDS from our clock."""
    return abs((now or time.time()) - timestamp) <= WINDOW_SECONDS


async def first_use(redis: Redis, key: str) -> bool:
    """True the first time `key` (a sender's nonce, a signature) is seen while its timestamp can
    still be accepted; False for a replay. Call it only once the signature matched, so a forged
    request cannot burn a real sender's nonce."""
    return bool(await redis.set(key, "1", nx=True, ex=NONCE_TTL_SECONDS))
