"""The push envelope, outside in: query signature first (before the body is even read), then the
timestamp window and the account's encryption mode, then a size-limited body, then XML safety (no
DTD, so no entity expansion), then in 兼容/安全 mode the msg_signature and AES decryption, then
the nonce memory. Only then does wechatpy parse the message into what the routes act on.

Replays. The query `signature` covers only token, timestamp and nonce, never the body, and a
plaintext body carries nothing else that is signed. So one triple from any old push plus a
user's OpenID used to be enough to file tickets in that user's name and read the user's tickets
back through 查询进度. Three checks close that:

* Timestamp window: `timestamp` must lie within ±`window` seconds (default 300,
  HOTLINE_WECHAT_TIMESTAMP_WINDOW_SECONDS) of the gateway's clock, checked right after the
  signature and before the body is read (403 `stale_timestamp`; not a number: 403
  `invalid_timestamp`). The GET server verification is held to the same window.
* Nonce memory: after every check has passed (signature, window, mode, XML, msg_signature and
  decryption, parsing) the gateway remembers the pair (timestamp, nonce) of the account in Redis
  (`SET NX`, expiring after 2 × window + 60 s, when the timestamp is out of the window anyway)
  together with the SHA-256 of what the push says: the mode it came in (raw/aes) and the message
  XML after decryption.
* Mode: in `safe` mode (the default; HOTLINE_WECHAT_<NAME>_MODE) a push without
  `encrypt_type=aes` is refused (403 `encryption_required`), so a forged plaintext body cannot
  ride on a captured signature: an encrypted body is bound to the triple by `msg_signature` and
  the AES key. In `plaintext` mode an encrypted push is refused (400 `unexpected_encryption`:
  WeChat and the gateway disagree about the mode, which an operator has to fix). `compatible`
  takes both; it is meant for the switch-over only, as it leaves plaintext bodies unsigned.

Retry or replay? WeChat re-sends a push it got no answer to within 5 s (three retries in total)
with the same timestamp, nonce and signature and the same message. A second push with a
remembered (timestamp, nonce) is therefore let through only when its digest is the one
remembered: the same message again, which the routes deduplicate by MsgId (events: sender +
CreateTime) and answer `success`, never making a second ticket. The same triple with any other
body is refused (403 `replayed_nonce`) before anything is stored. The digest is taken over the
decrypted message rather than the raw bytes, so a retry that WeChat had encrypted afresh (new
random prefix, new msg_signature) is still recognised as the same push. Outside the window a
triple is refused whatever it carries, so a captured triple is worth at most the one message it
came with, for at most `window` seconds.

Every refusal is a `PushRefused` with the HTTP status and a machine code, and nothing of a
refused push is stored."""
from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from hashlib import sha1, sha256
from typing import Any
from xml.etree.ElementTree import ParseError

from aiohttp import web
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from channels.wechat import keys as wx_keys
from channels.wechat.accounts import DEFAULT_WINDOW_SECONDS, WeChatAccount
from gateway.bodies import TooLarge, read_limited
from gateway.redis_values import text


class PushRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Push:
    message: Any  # a wechatpy message or event
    encrypted: bool
    timestamp: str
    nonce: str


def _sign(*parts: str) -> str:
    return sha1("".join(sorted(parts)).encode()).hexdigest()


def check_query_signature(account: WeChatAccount, query: Any) -> tuple[str, str]:
    signature, timestamp, nonce = query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", "")
    if not (signature and timestamp and nonce) or len(timestamp) > 16 or len(nonce) > 64:
        raise PushRefused(403, "invalid_signature", "签名校验失败")
    if not hmac.compare_digest(_sign(account.token, timestamp, nonce), signature.lower()):
        raise PushRefused(403, "invalid_signature", "签名校验失败")
    return timestamp, nonce


class ReplayGuard:
    """The timestamp window and the nonce memory (see the module docstring)."""

    def __init__(self, redis: Any, window: int = DEFAULT_WINDOW_SECONDS, clock: Any = time.time) -> None:
        self.redis, self.window, self.clock = redis, window, clock

    @property
    def ttl(self) -> int:
        return 2 * self.window + 60

    def check_time(self, timestamp: str) -> None:
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise PushRefused(403, "invalid_timestamp", "时间戳无效")
        if abs(self.clock() - int(timestamp)) > self.window:
            raise PushRefused(403, "stale_timestamp", f"时间戳超出允许范围（±{self.window} 秒）")

    async def remember(self, account: WeChatAccount, timestamp: str, nonce: str, digest: str) -> None:
        """Claim (timestamp, nonce) for this push; a retry of the same push passes, anything else
        under a triple already used is a replay."""
        key = wx_keys.nonce(account.name, timestamp, nonce)
        if await self.redis.set(key, digest, nx=True, ex=self.ttl):
            return
        known = await self.redis.get(key)
        if known is None and await self.redis.set(key, digest, nx=True, ex=self.ttl):
            return  # it had just expired
        if known is None or text(known) != digest:
            raise PushRefused(403, "replayed_nonce", "该签名已被使用")


def check_mode(account: WeChatAccount, query: Any) -> bool:
    """Whether the push comes encrypted, refused when the account's mode does not allow that."""
    encrypted = query.get("encrypt_type", "raw").lower() == "aes"
    if account.mode == "safe" and not encrypted:
        raise PushRefused(403, "encryption_required", "本公众号为安全模式，只接受加密消息")
    if account.mode == "plaintext" and encrypted:
        raise PushRefused(400, "unexpected_encryption", "本公众号配置为明文模式，却收到加密消息，请核对消息加解密方式")
    return encrypted


async def read_body(request: web.Request, limit: int) -> bytes:
    try:
        return await read_limited(request.content, request.content_length, limit, chunk=8192)
    except TooLarge:
        raise PushRefused(413, "payload_too_large", "消息体过大") from None


def safe_xml(raw: bytes | str) -> str:
    """Well-formed XML with no DTD (so no entities, no external references), as text."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError) as exc:
        raise PushRefused(400, "malformed_xml", f"消息格式错误：{type(exc).__name__}") from None
    if root.tag != "xml":
        raise PushRefused(400, "malformed_xml", "消息格式错误：根元素须为 xml")
    return text


async def open_push(request: web.Request, account: WeChatAccount, limit: int, guard: ReplayGuard) -> Push:
    timestamp, nonce = check_query_signature(account, request.query)
    guard.check_time(timestamp)
    encrypted = check_mode(account, request.query)
    raw = await read_body(request, limit)
    try:
        text = safe_xml(raw)
    except UnicodeDecodeError:
        raise PushRefused(400, "bad_encoding", "消息须为 UTF-8 编码") from None
    if encrypted:
        msg_signature = request.query.get("msg_signature", "")
        if not msg_signature:
            raise PushRefused(403, "invalid_signature", "缺少 msg_signature")
        try:
            text = WeChatCrypto(account.token, account.aes_key, account.appid).decrypt_message(text, msg_signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException):
            raise PushRefused(403, "invalid_signature", "msg_signature 校验失败") from None
        except Exception as exc:  # bad Base64, padding or length inside the ciphertext
            raise PushRefused(400, "undecryptable", f"消息解密失败：{type(exc).__name__}") from None
        text = safe_xml(text)
    try:
        message = parse_message(text)
    except Exception as exc:
        raise PushRefused(400, "malformed_xml", f"消息格式错误：{type(exc).__name__}") from None
    digest = sha256(f"{'aes' if encrypted else 'raw'}\n{text}".encode()).hexdigest()
    await guard.remember(account, timestamp, nonce, digest)
    return Push(message=message, encrypted=encrypted, timestamp=timestamp, nonce=nonce)


def seal_reply(account: WeChatAccount, push: Push, reply_xml: str) -> str:
    """The passive reply as WeChat expects it: encrypted when the push was."""
    if not push.encrypted:
        return reply_xml
    crypto = WeChatCrypto(account.token, account.aes_key, account.appid)
    return str(crypto.encrypt_message(reply_xml, push.nonce, str(int(time.time()))))
