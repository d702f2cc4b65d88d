"""The push envelope, outside in: query signature first (before the body is even read), then a
size-limited body, then XML safety (no DTD, so no entity expansion), then in 兼容/安全 mode the
msg_signature and AES decryption. Only then does wechatpy parse the message.

Every refusal is a `PushRefused` with the HTTP status and a machine code, and nothing of a
refused push is stored."""
from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from hashlib import sha1
from typing import Any
from xml.etree.ElementTree import ParseError

from aiohttp import web
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from channels.wechat.accounts import WeChatAccount
from gateway.bodies import TooLarge, read_limited


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


async def open_push(request: web.Request, account: WeChatAccount, limit: int) -> Push:
    timestamp, nonce = check_query_signature(account, request.query)
    raw = await read_body(request, limit)
    try:
        text = safe_xml(raw)
    except UnicodeDecodeError:
        raise PushRefused(400, "bad_encoding", "消息须为 UTF-8 编码") from None
    encrypted = request.query.get("encrypt_type", "raw").lower() == "aes"
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
    return Push(message=message, encrypted=encrypted, timestamp=timestamp, nonce=nonce)


def seal_reply(account: WeChatAccount, push: Push, reply_xml: str) -> str:
    """The passive reply as WeChat expects it: encrypted when the push was."""
    if not push.encrypted:
        return reply_xml
    crypto = WeChatCrypto(account.token, account.aes_key, account.appid)
    return str(crypto.encrypt_message(reply_xml, push.nonce, str(int(time.time()))))
