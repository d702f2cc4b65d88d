"""Partner API request signatures (both directions, docs/partner-api.md).

Every request carries
  X-Partner-Id         the sender's id in the directory (e.g. `tianjin`)
  X-Partner-Key-Id     the shared key's id
  X-Partner-Timestamp  unix seconds; accepted within ±5 minutes
  X-Partner-Nonce      16–64 characters [A-Za-z0-9_-], never seen before from that sender
  X-Partner-Signature  hex HMAC-SHA256(secret, METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n sha256hex(BODY))

The headers are checked before the body is read; the body only once the signature matches, and
the nonce is remembered only then (a forged request cannot burn a real sender's nonce). The time
window and the nonce memory are the kernel's (gateway/signing.py).
Attachment links are signed the same way with method GET and an `exp` in place of the nonce.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from gateway import keys
from gateway.signing import first_use, within_window

_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TIMESTAMP = re.compile(r"^\d{1,12}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = "\n".join((method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(sender: str, key_id: str, secret: str, method: str, path: str, body: bytes) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(18)
    return {
        "X-Partner-Id": sender, "X-Partner-Key-Id": key_id, "X-Partner-Timestamp": timestamp, "X-Partner-Nonce": nonce,
        "X-Partner-Signature": signature(secret, method, path, timestamp, nonce, body),
    }


@dataclass(frozen=True)
class SignedHeaders:
    sender: str
    key_id: str
    timestamp: str
    nonce: str
    signature: str


class SignatureError(Exception):
    """Why a request is refused (401); `code` is the machine code sent back."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def read_headers(headers: Mapping[str, str], now: float | None = None) -> SignedHeaders:
    """The signature headers, well formed and within the time window (no body needed yet)."""
    get = headers.get
    values = SignedHeaders(*(str(get(name, "")) for name in (
        "X-Partner-Id", "X-Partner-Key-Id", "X-Partner-Timestamp", "X-Partner-Nonce", "X-Partner-Signature")))
    if not all((_ID.match(values.sender), _ID.match(values.key_id), _TIMESTAMP.match(values.timestamp),
                _NONCE.match(values.nonce), _SIGNATURE.match(values.signature))):
        raise SignatureError("signature_missing", "缺少签名或签名格式不正确")
    if not within_window(int(values.timestamp), now):
        raise SignatureError("stale_timestamp", "请求时间戳超出允许范围（±5分钟），请校准时钟后重试")
    return values


def check(secret: str, method: str, path: str, signed: SignedHeaders, body: bytes) -> None:
    expected = signature(secret, method, path, signed.timestamp, signed.nonce, body)
    if not hmac.compare_digest(expected, signed.signature):
        raise SignatureError("invalid_signature", "签名校验失败")


async def remember_nonce(redis: Redis, signed: SignedHeaders) -> None:
    """Raises on a nonce already used by this sender (a replay)."""
    if not await first_use(redis, f"{keys.P}partner:nonce:{signed.sender}:{signed.nonce}"):
        raise SignatureError("replayed_nonce", "该请求已处理过（nonce 重复），请勿重放")


# -- attachment links ---------------------------------------------------------------------------

def blob_path(sha256: str) -> str:
    return f"/partners/v1/blobs/{sha256}"


def link_signature(secret: str, sha256: str, expires: int, key_id: str) -> str:
    return signature(secret, "GET", blob_path(sha256), str(expires), key_id, b"")


def check_link(secret: str, sha256: str, expires: str, key_id: str, sig: str, now: float | None = None) -> None:
    if not _TIMESTAMP.match(expires) or not _SIGNATURE.match(sig):
        raise SignatureError("invalid_link", "附件链接无效")
    if int(expires) < (now or time.time()):
        raise SignatureError("link_expired", "附件链接已过期")
    if not hmac.compare_digest(link_signature(secret, sha256, int(expires), key_id), sig):
        raise SignatureError("invalid_link", "附件链接无效")
