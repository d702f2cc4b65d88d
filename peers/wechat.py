"""A peer that plays WeChat (公众号 platform) byte for byte, for tests and local development.

Real WeChat servers cannot be reached here, so this module stands in for them on both of the
gateway's wires (see shared/specs/wechat.md):

* WeChat -> gateway: `WeChatPeer.verify` sends the server-verification GET, `WeChatPeer.push`
  POSTs messages and events to the callback URL in 明文 (``plain``), 兼容 (``compat``) or 安全
  (``safe``) mode with the query string WeChat writes (signature, timestamp, nonce, openid,
  encrypt_type, msg_signature), and judges the answer as WeChat would: ``success``/empty, a
  passive reply (decrypted and MsgSignature-checked when it is an encrypted envelope), or
  something that makes the user see "该公众号暂时无法提供服务". `push_with_retries` re-sends the
  same push like WeChat's retries; `push_raw` sends arbitrary bytes (malformed, XXE, oversize).
* gateway -> WeChat: `WeChatPeer.start` serves a small ``api.weixin.qq.com`` on 127.0.0.1:
  ``/cgi-bin/token``, ``/cgi-bin/media/get``, ``/cgi-bin/message/custom/send`` (JSON checked,
  the 48 h / 5-message window and the 1 min / 3-message event window modelled, 40001/42001 on
  bad or expired tokens), and ``/pic/{name}`` as the PicUrl host. Faults: `fail_next`, `down`,
  `invalidate_token`, `close_window`, and `advance` to move the API model's clock.

The crypto (§2: AES-256-CBC, PKCS#7 padding to 32 bytes, 16 random bytes, network-order length,
appid trailer) and the signatures (§1) are written here from the spec with `cryptography` and
`hashlib`, deliberately not with wechatpy, so that the gateway (which uses wechatpy) is tested
against a second implementation.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import logging
import os
import re
import secrets
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.etree.ElementTree import Element

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree as SafeET

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_ORIGINAL_ID", "DEADLINE", "ERRMSG", "Mode", "ACCOUNT_MODES", "PUSH_MODES",
    "Account", "ApiCall", "PushResult", "ReplyError", "WeChatPeer",
    "signature", "msg_signature", "aes_key", "pkcs7_pad", "pkcs7_unpad", "encrypt", "decrypt",
    "safe_envelope", "compat_body", "reply_envelope", "parse_xml",
    "text", "image", "voice", "video", "shortvideo", "location", "link", "event",
]

Mode = Literal["plain", "compat", "safe"]
# the gateway's HOTLINE_WECHAT_<NAME>_MODE for each push mode, and the push mode WeChat uses for each
ACCOUNT_MODES: dict[str, str] = {"plain": "plaintext", "compat": "compatible", "safe": "safe"}
PUSH_MODES: dict[str, Mode] = {"plaintext": "plain", "compatible": "compat", "safe": "safe"}
DEFAULT_ORIGINAL_ID = "gh_0a1b2c3d4e5f"
DEADLINE = 5.0  # seconds WeChat waits for the answer to a push (§4, §5)
BLOCK = 32      # PKCS#7 block size of the WeChat scheme (§2), not AES's 16

# errmsg texts as api.weixin.qq.com writes them (a " rid: …" suffix is appended, as WeChat does)
ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    42001: "access_token expired",
    44004: "empty content",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}
JSON_TYPE = "application/json; encoding=utf-8"  # WeChat's Content-Type on API answers

# ============================================================================================
# Account, signatures, crypto (§1, §2)
# ============================================================================================

_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{3,32}$")
_AES_KEY_RE = re.compile(r"^[A-Za-z0-9]{43}$")
_OPENID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class Account:
    """One 公众号 as configured in 公众平台 › 基本配置 (§1)."""

    token: str
    appid: str
    encoding_aes_key: str
    appsecret: str
    original_id: str = DEFAULT_ORIGINAL_ID

    def __post_init__(self) -> None:
        if not _AES_KEY_RE.match(self.encoding_aes_key):
            raise ValueError("EncodingAESKey must be 43 characters of [A-Za-z0-9]")
        if not _TOKEN_RE.match(self.token):
            raise ValueError("Token must be 3-32 letters or digits")

    @property
    def aes_key(self) -> bytes:
        return aes_key(self.encoding_aes_key)

    def env(self, name: str = "main", mode: str = "safe") -> dict[str, str]:
        """The gateway's environment for this account as `name`, in `mode` (plaintext/compatible/safe)."""
        prefix = f"HOTLINE_WECHAT_{name.upper().replace('-', '_')}_"
        return {prefix + "TOKEN": self.token, prefix + "APPID": self.appid, prefix + "AES_KEY": self.encoding_aes_key,
                prefix + "SECRET": self.appsecret, prefix + "MODE": mode}

    @classmethod
    def from_env(cls, name: str = "main", environ: Mapping[str, str] = os.environ,
                 original_id: str = DEFAULT_ORIGINAL_ID) -> "tuple[Account, Mode]":
        """The account the gateway reads from HOTLINE_WECHAT_<NAME>_*, and the push mode its
        _MODE asks for (safe when unset)."""
        prefix = f"HOTLINE_WECHAT_{name.upper().replace('-', '_')}_"
        missing = [prefix + k for k in ("TOKEN", "APPID", "AES_KEY") if not environ.get(prefix + k)]
        if missing:
            raise ValueError(f"set {', '.join(missing)}")
        mode = (environ.get(prefix + "MODE") or "safe").strip().lower()
        if mode not in PUSH_MODES:
            raise ValueError(f"{prefix}MODE must be plaintext, compatible or safe, not {mode!r}")
        account = cls(token=environ[prefix + "TOKEN"], appid=environ[prefix + "APPID"],
                      encoding_aes_key=environ[prefix + "AES_KEY"], appsecret=environ.get(prefix + "SECRET", ""),
                      original_id=original_id)
        return account, PUSH_MODES[mode]

    @classmethod
    def generate(cls, original_id: str = DEFAULT_ORIGINAL_ID) -> "Account":
        """Fresh random credentials of the right shapes."""
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return cls(
            token="".join(secrets.choice(alphabet) for _ in range(32)),
            appid="wx" + secrets.token_hex(8),
            encoding_aes_key="".join(secrets.choice(alphabet) for _ in range(43)),
            appsecret=secrets.token_hex(16),
            original_id=original_id,
        )


def _sha1_sorted(*parts: str) -> str:
    # plain string sort (code points == UTF-8 byte order), no separator, lowercase hex
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature(token: str, timestamp: str, nonce: str) -> str:
    """The `signature` query parameter of every GET and POST (§1)."""
    return _sha1_sorted(token, str(timestamp), str(nonce))


def msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """The `msg_signature` parameter / `MsgSignature` element over an `Encrypt` value (§1, §2)."""
    return _sha1_sorted(token, str(timestamp), str(nonce), encrypt)


def aes_key(encoding_aes_key: str) -> bytes:
    """AESKey = Base64_Decode(EncodingAESKey + "=") -> 32 bytes."""
    if not _AES_KEY_RE.match(encoding_aes_key):
        raise ValueError("EncodingAESKey must be 43 characters of [A-Za-z0-9]")
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:  # pragma: no cover - 43 base64 chars always give 32 bytes
        raise ValueError("EncodingAESKey does not decode to 32 bytes")
    return key


def pkcs7_pad(data: bytes, block: int = BLOCK) -> bytes:
    """PKCS#7 padding to a multiple of `block` bytes; a full block of padding when already aligned."""
    n = block - len(data) % block
    return data + bytes([n]) * n


def pkcs7_unpad(data: bytes, block: int = BLOCK) -> bytes:
    if not data or len(data) % 16:
        raise ValueError("decrypted buffer has a bad length")
    n = data[-1]
    if not 1 <= n <= block or n > len(data) or data[-n:] != bytes([n]) * n:
        raise ValueError(f"bad PKCS#7 padding (value {n})")
    return data[:-n]


def _cipher(key: bytes) -> Cipher:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def encrypt(account: Account, xml: str, random16: bytes | None = None) -> str:
    """Base64(AES-256-CBC(pad32(random16 ‖ uint32be(len(msg)) ‖ msg ‖ appid))), IV = key[:16]."""
    if random16 is None:
        random16 = os.urandom(16)
    if len(random16) != 16:
        raise ValueError("random16 must be 16 bytes")
    msg = xml.encode("utf-8")
    buf = random16 + struct.pack(">I", len(msg)) + msg + account.appid.encode("utf-8")
    enc = _cipher(account.aes_key).encryptor()
    return base64.b64encode(enc.update(pkcs7_pad(buf)) + enc.finalize()).decode("ascii")


def decrypt(account: Account, encrypt_b64: str) -> str:
    """Inverse of `encrypt`; checks padding, length and the appid trailer. Raises ValueError."""
    try:
        raw = base64.b64decode(encrypt_b64.strip(), validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Encrypt is not Base64: {exc}") from None
    if not raw or len(raw) % 16:
        raise ValueError("ciphertext is not a whole number of AES blocks")
    dec = _cipher(account.aes_key).decryptor()
    buf = pkcs7_unpad(dec.update(raw) + dec.finalize())
    if len(buf) < 20:
        raise ValueError("decrypted buffer too short")
    (length,) = struct.unpack(">I", buf[16:20])
    if 20 + length > len(buf):
        raise ValueError("message length exceeds the buffer")
    msg, trailer = buf[20:20 + length], buf[20 + length:]
    if trailer != account.appid.encode("utf-8"):
        raise ValueError(f"appid mismatch: {trailer!r}")
    try:
        return msg.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"message is not UTF-8: {exc}") from None


# ============================================================================================
# XML writing (§3) and reading
# ============================================================================================

def _cdata(value: str) -> str:
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _num(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def _element(tag: str, value: Any) -> str:
    """Strings as CDATA, numbers bare — as WeChat writes them."""
    body = _num(value) if isinstance(value, (int, float)) else _cdata(value)
    return f"<{tag}>{body}</{tag}>"


def _doc(pairs: list[tuple[str, Any]]) -> str:
    # WeChat ends every element with a newline inside <xml>
    return "<xml>" + "\n".join(_element(k, v) for k, v in pairs if v is not None) + "\n</xml>"


_msg_ids = itertools.count()


def _msg_id(msg_id: int | None) -> int:
    if msg_id is not None:
        return int(msg_id)
    return int(time.time() * 1000) * 1000 + next(_msg_ids) % 1000  # 64-bit, unique per process


def _header(openid: str, msg_type: str, create_time: int | None, to: str) -> list[tuple[str, Any]]:
    return [("ToUserName", to), ("FromUserName", openid),
            ("CreateTime", int(create_time if create_time is not None else time.time())),
            ("MsgType", msg_type)]


def _message(openid: str, msg_type: str, fields: list[tuple[str, Any]], msg_id: int | None,
             create_time: int | None, to: str, extra: Mapping[str, Any]) -> str:
    # MsgId comes last; MsgDataId / Idx (messages sent from an article) follow it
    return _doc(_header(openid, msg_type, create_time, to) + fields
                + [("MsgId", _msg_id(msg_id))] + list(extra.items()))


def text(openid: str, content: str, msg_id: int | None = None, create_time: int | None = None,
         to: str = DEFAULT_ORIGINAL_ID, **extra: Any) -> str:
    return _message(openid, "text", [("Content", content)], msg_id, create_time, to, extra)


def image(openid: str, pic_url: str, media_id: str, msg_id: int | None = None,
          create_time: int | None = None, to: str = DEFAULT_ORIGINAL_ID, **extra: Any) -> str:
    return _message(openid, "image", [("PicUrl", pic_url), ("MediaId", media_id)],
                    msg_id, create_time, to, extra)


def voice(openid: str, media_id: str, msg_id: int | None = None, fmt: str = "amr",
          recognition: str | None = None, create_time: int | None = None,
          to: str = DEFAULT_ORIGINAL_ID, **extra: Any) -> str:
    """`recognition` present only when 语音识别 is on (the element is then written, even if empty)."""
    return _message(openid, "voice", [("MediaId", media_id), ("Format", fmt), ("Recognition", recognition)],
                    msg_id, create_time, to, extra)


def video(openid: str, media_id: str, thumb_media_id: str, msg_id: int | None = None,
          create_time: int | None = None, to: str = DEFAULT_ORIGINAL_ID, **extra: Any) -> str:
    return _message(openid, "video", [("MediaId", media_id), ("ThumbMediaId", thumb_media_id)],
                    msg_id, create_time, to, extra)


def shortvideo(openid: str, media_id: str, thumb_media_id: str, msg_id: int | None = None,
               create_time: int | None = None, to: str = DEFAULT_ORIGINAL_ID, **extra: Any) -> str:
    return _message(openid, "shortvideo", [("MediaId", media_id), ("ThumbMediaId", thumb_media_id)],
                    msg_id, create_time, to, extra)


def location(openid: str, x: float, y: float, scale: int, label: str, msg_id: int | None = None,
             create_time: int | None = None, to: str = DEFAULT_ORIGINAL_ID, **extra: Any) -> str:
    """x = Location_X = latitude, y = Location_Y = longitude (floats written with 6 decimals)."""
    return _message(openid, "location", [("Location_X", float(x)), ("Location_Y", float(y)),
                                         ("Scale", int(scale)), ("Label", label)],
                    msg_id, create_time, to, extra)


def link(openid: str, title: str, description: str, url: str, msg_id: int | None = None,
         create_time: int | None = None, to: str = DEFAULT_ORIGINAL_ID, **extra: Any) -> str:
    return _message(openid, "link", [("Title", title), ("Description", description), ("Url", url)],
                    msg_id, create_time, to, extra)


def event(openid: str, event: str, create_time: int | None = None, to: str = DEFAULT_ORIGINAL_ID,
          **fields: Any) -> str:
    """An event push (no MsgId). `fields` in order; str -> CDATA, int/float -> bare, e.g.
    event(o, "CLICK", EventKey="MENU_REPORT"), event(o, "LOCATION", Latitude=39.9, Longitude=116.4,
    Precision=30.0), event(o, "subscribe", EventKey="qrscene_hotline01", Ticket="T")."""
    return _doc(_header(openid, "event", create_time, to) + [("Event", event)] + list(fields.items()))


def safe_envelope(to_user: str, encrypted: str) -> str:
    """The 安全模式 body: only ToUserName and Encrypt."""
    return f"<xml><ToUserName>{_cdata(to_user)}</ToUserName>\n<Encrypt>{_cdata(encrypted)}</Encrypt>\n</xml>"


def compat_body(xml: str, encrypted: str) -> str:
    """The 兼容模式 body: the plaintext fields plus an <Encrypt> element before </xml>."""
    idx = xml.rfind("</xml>")
    if idx < 0:
        return xml + f"<Encrypt>{_cdata(encrypted)}</Encrypt>\n"
    return xml[:idx] + f"<Encrypt>{_cdata(encrypted)}</Encrypt>\n" + xml[idx:]


def reply_envelope(account: Account, reply_xml: str, timestamp: str, nonce: str,
                   random16: bytes | None = None) -> str:
    """An encrypted passive reply (§2) as a developer server writes it (for tests of this module)."""
    enc = encrypt(account, reply_xml, random16)
    return (f"<xml><Encrypt>{_cdata(enc)}</Encrypt><MsgSignature>"
            f"{_cdata(msg_signature(account.token, timestamp, nonce, enc))}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{_cdata(nonce)}</Nonce></xml>")


def _to_value(el: Element) -> Any:
    children = list(el)
    if not children:
        return el.text or ""
    if all(c.tag == "item" for c in children):
        return [_to_value(c) for c in children]
    out: dict[str, Any] = {}
    for c in children:
        v = _to_value(c)
        if c.tag in out:
            prev = out[c.tag]
            out[c.tag] = (prev if isinstance(prev, list) else [prev]) + [v]
        else:
            out[c.tag] = v
    return out


def parse_xml(xml: str | bytes) -> dict[str, Any]:
    """<xml> document -> dict of its elements (strings; nested elements -> dicts; <item>s -> list).
    DTDs and entities are refused (defusedxml). Raises ValueError."""
    try:
        root = SafeET.fromstring(xml, forbid_dtd=True)
    except Exception as exc:  # ParseError, DefusedXmlException
        raise ValueError(f"not acceptable XML: {exc}") from None
    if root.tag != "xml":
        raise ValueError(f"root element is <{root.tag}>, not <xml>")
    value = _to_value(root)
    return value if isinstance(value, dict) else {}


_PEEK_CACHE: dict[str, re.Pattern[str]] = {}


def _peek(xml: str, tag: str) -> str | None:
    """Tolerant read of one element (works on malformed XML too)."""
    pat = _PEEK_CACHE.get(tag)
    if pat is None:
        pat = _PEEK_CACHE[tag] = re.compile(
            rf"<{tag}>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*?))\s*</{tag}>", re.S)
    m = pat.search(xml)
    if not m:
        return None
    return m.group(1) if m.group(1) is not None else m.group(2)


# ============================================================================================
# Push results
# ============================================================================================

class ReplyError(AssertionError):
    """WeChat would not accept the gateway's answer to a push."""


# elements each passive reply type needs after the header (§4)
_REPLY_REQUIRED: dict[str, tuple[str, ...]] = {
    "text": ("Content",), "image": ("Image",), "voice": ("Voice",), "video": ("Video",),
    "music": ("Music",), "news": ("ArticleCount", "Articles"),
    "transfer_customer_service": (),
}
_REPLY_NESTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "image": ("Image", ("MediaId",)), "voice": ("Voice", ("MediaId",)), "video": ("Video", ("MediaId",)),
    "music": ("Music", ("ThumbMediaId",)),
}


@dataclass
class PushResult:
    status: int                 # HTTP status; 0 when WeChat gave up (timeout, connection error)
    body: str                   # the raw answer
    elapsed: float              # seconds until the answer
    reply: dict[str, Any] | None  # the passive reply's elements (decrypted when encrypted)
    is_success_literal: bool    # body == "success" or empty: no reply, no retry
    encrypted: bool = False     # the answer was an encrypted envelope (MsgSignature verified)
    timed_out: bool = False
    error: str | None = None    # why WeChat would show "该公众号暂时无法提供服务"; None = acceptable
    reply_xml: str | None = None  # the (decrypted) reply XML
    query: dict[str, str] = field(default_factory=dict)  # what was sent
    request_body: bytes = b""

    @property
    def ok(self) -> bool:
        return self.error is None

    def check(self) -> "PushResult":
        """Raise ReplyError when WeChat would not accept this answer; returns self."""
        if self.error is not None:
            raise ReplyError(f"{self.error} (status {self.status}, body {self.body[:300]!r})")
        return self


# ============================================================================================
# API-side records
# ============================================================================================

@dataclass
class ApiCall:
    method: str
    path: str
    query: dict[str, str]
    body: Any            # parsed JSON when it was JSON, else the raw bytes (b"" for GET)
    status: int
    errcode: int | None  # None for a binary (media/pic) answer
    at: float            # peer clock


@dataclass
class _Media:
    data: bytes
    content_type: str
    as_video_url: bool = False


@dataclass
class _Window:
    until: float
    remaining: int


@dataclass
class _Token:
    expires_at: float
    valid: bool = True


_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "audio/amr": "amr",
        "audio/speex": "speex", "audio/mpeg": "mp3", "video/mp4": "mp4"}

# §6 message types and the keys each one's object must carry
_CUSTOM_REQUIRED: dict[str, tuple[str, ...]] = {
    "text": ("content",), "image": ("media_id",), "voice": ("media_id",),
    "video": ("media_id", "thumb_media_id"),
    "music": ("musicurl", "hqmusicurl", "thumb_media_id"),
    "news": ("articles",), "mpnews": ("media_id",), "mpnewsarticle": ("article_id",),
    "msgmenu": ("list",), "miniprogrampage": ("appid", "pagepath", "thumb_media_id"),
    "wxcard": ("card_id",),
}

MESSAGE_WINDOW = 48 * 3600.0   # after the user sends a message: 5 messages within 48 h
MESSAGE_QUOTA = 5
EVENT_WINDOW = 60.0            # after a menu click, follow or QR scan: 3 messages within 1 min
EVENT_QUOTA = 3
_EVENT_OPENS = {"click", "subscribe", "scan", "scancode_push", "scancode_waitmsg"}
TOKEN_OVERLAP = 300.0          # an old access_token stays usable 5 min after a new one is issued


# ============================================================================================
# The peer
# ============================================================================================

class WeChatPeer:
    """Plays WeChat towards one gateway callback URL and serves a local api.weixin.qq.com."""

    def __init__(self, account: Account, gateway_url: str, *, token_expires_in: int = 7200,
                 clock: Callable[[], float] = time.time, host: str = "127.0.0.1", port: int = 0) -> None:
        self.account = account
        self.gateway_url = gateway_url
        self.token_expires_in = token_expires_in
        self._clock = clock
        self._offset = 0.0
        self._host, self._port = host, port
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._api_base: str | None = None
        # API model
        self.token_fetches = 0
        self._tokens: dict[str, _Token] = {}
        self.current_token: str | None = None
        self._media: dict[str, _Media] = {}
        self._pics: dict[str, tuple[bytes, str]] = {}
        self.sent: list[dict[str, Any]] = []
        self.api_calls: list[ApiCall] = []
        self._windows: dict[str, dict[str, _Window]] = {}
        self._failures: list[list[Any]] = []  # [remaining, errcode, path]
        self._down = False
        self._changed = asyncio.Event()

    # ---------------------------------------------------------------- lifecycle
    async def __aenter__(self) -> "WeChatPeer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the API server (api.weixin.qq.com + PicUrl host) on host:port (0 = any free)."""
        if self._runner is not None:
            return
        app = web.Application(middlewares=[self._middleware], client_max_size=4 * 1024 * 1024)
        app.router.add_get("/cgi-bin/token", self._h_token)
        app.router.add_get("/cgi-bin/media/get", self._h_media)
        app.router.add_post("/cgi-bin/message/custom/send", self._h_custom_send)
        app.router.add_get("/pic/{name}", self._h_pic)
        app.router.add_get("/video/{media_id}", self._h_video)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._api_base = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def api_base(self) -> str:
        """e.g. "http://127.0.0.1:PORT"; the gateway's WeChat API base is this + "/cgi-bin/"."""
        if self._api_base is None:
            raise RuntimeError("WeChatPeer.start() has not been awaited")
        return self._api_base

    def pic_url(self, name: str) -> str:
        return f"{self.api_base}/pic/{name}"

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # a new connection per push, like WeChat's servers
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
        return self._session

    # ---------------------------------------------------------------- clock
    def now(self) -> float:
        """The API model's clock (token expiry, windows); `advance` moves it."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    # ================================================================ WeChat -> gateway
    def _fresh_ts_nonce(self, timestamp: str | None, nonce: str | None) -> tuple[str, str]:
        ts = str(timestamp) if timestamp is not None else str(int(time.time()))
        nn = str(nonce) if nonce is not None else str(secrets.randbelow(9_000_000_000) + 1_000_000_000)
        return ts, nn

    def signed_query(self, mode: Mode = "plain", encrypt: str | None = None, *, openid: str | None = None,
                     timestamp: str | None = None, nonce: str | None = None,
                     bad_signature: bool = False, bad_msg_signature: bool = False) -> dict[str, str]:
        """A valid callback query, in WeChat's order: signature, timestamp, nonce, openid
        [, encrypt_type=aes, msg_signature] (the last two when mode is compat/safe; needs `encrypt`)."""
        ts, nn = self._fresh_ts_nonce(timestamp, nonce)
        sig = signature(self.account.token, ts, nn)
        q = {"signature": _corrupt(sig) if bad_signature else sig, "timestamp": ts, "nonce": nn}
        if openid is not None:
            q["openid"] = openid
        if mode != "plain":
            if encrypt is None:
                raise ValueError(f"mode {mode!r} needs the Encrypt value to sign")
            ms = msg_signature(self.account.token, ts, nn, encrypt)
            q["encrypt_type"] = "aes"
            q["msg_signature"] = _corrupt(ms) if bad_msg_signature else ms
        elif bad_msg_signature:
            raise ValueError("bad_msg_signature needs mode compat or safe")
        return q

    def build_push(self, xml: str, mode: Mode = "safe", *, timestamp: str | None = None,
                   nonce: str | None = None, bad_signature: bool = False, bad_msg_signature: bool = False,
                   openid: str | None = None, random16: bytes | None = None) -> tuple[bytes, dict[str, str]]:
        """(body, query) of the POST WeChat makes for `xml` in `mode`."""
        if mode not in ("plain", "compat", "safe"):
            raise ValueError(f"unknown mode {mode!r}")
        openid = openid if openid is not None else _peek(xml, "FromUserName")
        if mode == "plain":
            body, enc = xml, None
        else:
            enc = encrypt(self.account, xml, random16)
            if mode == "compat":
                body = compat_body(xml, enc)
            else:
                body = safe_envelope(_peek(xml, "ToUserName") or self.account.original_id, enc)
        query = self.signed_query(mode, enc, openid=openid, timestamp=timestamp, nonce=nonce,
                                  bad_signature=bad_signature, bad_msg_signature=bad_msg_signature)
        return body.encode("utf-8"), query

    async def verify(self, echostr: str = "echo123", *, bad_signature: bool = False,
                     timestamp: str | None = None, nonce: str | None = None) -> tuple[int, str]:
        """The 服务器配置 verification GET: signature, echostr, timestamp, nonce. -> (status, body)."""
        ts, nn = self._fresh_ts_nonce(timestamp, nonce)
        sig = signature(self.account.token, ts, nn)
        query = {"signature": _corrupt(sig) if bad_signature else sig, "echostr": echostr,
                 "timestamp": ts, "nonce": nn}
        async with self._http().get(self.gateway_url, params=query, headers=_WECHAT_HEADERS,
                                    timeout=aiohttp.ClientTimeout(total=DEADLINE)) as resp:
            return resp.status, await resp.text(errors="replace")

    async def push(self, xml: str, mode: Mode = "safe", *, timeout: float = DEADLINE,
                   bad_signature: bool = False, bad_msg_signature: bool = False,
                   timestamp: str | None = None, nonce: str | None = None,
                   openid: str | None = None) -> PushResult:
        """POST one message/event as WeChat does and judge the answer (see PushResult)."""
        body, query = self.build_push(xml, mode, timestamp=timestamp, nonce=nonce, bad_signature=bad_signature,
                                      bad_msg_signature=bad_msg_signature, openid=openid)
        self._note_user_action(xml)
        return await self._deliver(body, query, mode, timeout)

    async def push_with_retries(self, xml: str, mode: Mode = "safe", retries: int = 3, *,
                                timeout: float = DEADLINE, always: bool = True,
                                timestamp: str | None = None, nonce: str | None = None) -> list[PushResult]:
        """The same push (same query, same bytes) delivered 1 + `retries` times, as WeChat re-sends a
        push it got no answer to within 5 s (§5: three retries in total). With always=True (default)
        every delivery is made, to test dedupe; with always=False it stops at the first acceptable
        answer, as WeChat does."""
        body, query = self.build_push(xml, mode, timestamp=timestamp, nonce=nonce)
        self._note_user_action(xml)
        results: list[PushResult] = []
        for _ in range(1 + retries):
            r = await self._deliver(body, query, mode, timeout)
            results.append(r)
            if not always and r.ok:
                break
        return results

    async def push_raw(self, body: bytes, query: Mapping[str, str], content_type: str | None = "text/xml",
                       *, timeout: float = DEADLINE) -> tuple[int, str]:
        """POST arbitrary bytes with `query` (see signed_query); -> (status, body)."""
        headers = dict(_WECHAT_HEADERS)
        if content_type is not None:
            headers["Content-Type"] = content_type
        async with self._http().post(self.gateway_url, params=dict(query), data=body, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            return resp.status, await resp.text(errors="replace")

    async def _deliver(self, body: bytes, query: dict[str, str], mode: Mode, timeout: float) -> PushResult:
        headers = {**_WECHAT_HEADERS, "Content-Type": "text/xml"}
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        try:
            async with self._http().post(self.gateway_url, params=query, data=body, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                raw = await resp.read()
                status = resp.status
        except asyncio.TimeoutError:
            return PushResult(0, "", loop.time() - t0, None, False, timed_out=True,
                              error=f"no answer within {timeout:g} s", query=query, request_body=body)
        except aiohttp.ClientError as exc:
            return PushResult(0, "", loop.time() - t0, None, False,
                              error=f"connection failed: {exc!r}", query=query, request_body=body)
        elapsed = loop.time() - t0
        result = self.judge(status, raw, mode, query, elapsed=elapsed, request_body=body)
        if result.error is None and elapsed > DEADLINE:
            result.error = f"answered after {elapsed:.2f} s (> {DEADLINE:g} s)"
        return result

    def judge(self, status: int, raw: bytes, mode: Mode, query: dict[str, str], *, elapsed: float = 0.0,
              request_body: bytes = b"") -> PushResult:
        """The gateway's answer to a push, read as WeChat reads it (decrypted, signature checked)."""
        text_body = raw.decode("utf-8", errors="replace")
        result = PushResult(status, text_body, elapsed, None, text_body in ("", "success"), query=query, request_body=request_body)
        self._judge(result, raw, mode, query.get("openid"))
        return result

    def _judge(self, r: PushResult, raw: bytes, mode: Mode, openid: str | None) -> None:
        if r.status != 200:
            r.error = f"HTTP {r.status}"
            return
        if r.is_success_literal:
            return
        try:
            outer = parse_xml(raw)
        except ValueError as exc:
            r.error = f"invalid reply: {exc}"
            return
        if "Encrypt" in outer:
            r.encrypted = True
            enc, ts, nn = outer.get("Encrypt"), outer.get("TimeStamp"), outer.get("Nonce")
            sig = outer.get("MsgSignature")
            if not (isinstance(enc, str) and enc and isinstance(ts, str) and ts
                    and isinstance(nn, str) and nn and isinstance(sig, str) and sig):
                r.error = "encrypted reply lacks Encrypt/MsgSignature/TimeStamp/Nonce"
                return
            if msg_signature(self.account.token, ts, nn, enc) != sig:
                r.error = "encrypted reply: MsgSignature does not match"
                return
            try:
                inner = decrypt(self.account, enc)
            except ValueError as exc:
                r.error = f"encrypted reply: {exc}"
                return
            if inner in ("", "success"):  # an encrypted "no reply"
                r.reply_xml = inner
                return
            try:
                reply = parse_xml(inner)
            except ValueError as exc:
                r.error = f"decrypted reply: {exc}"
                return
            r.reply_xml, r.reply = inner, reply
        else:
            r.reply_xml, r.reply = r.body, outer
            if mode == "safe":
                r.error = "plaintext reply in safe mode (must be encrypted)"
                return
        r.error = self._check_reply(r.reply, openid)

    def _check_reply(self, reply: dict[str, Any], openid: str | None) -> str | None:
        for key in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
            if not reply.get(key):
                return f"reply lacks {key}"
        if openid is not None and reply["ToUserName"] != openid:
            return f"reply ToUserName {reply['ToUserName']!r} is not the sender {openid!r}"
        if reply["FromUserName"] != self.account.original_id:
            return f"reply FromUserName {reply['FromUserName']!r} is not {self.account.original_id!r}"
        if not str(reply["CreateTime"]).isdigit():
            return "reply CreateTime is not an integer"
        mtype = reply["MsgType"]
        if mtype not in _REPLY_REQUIRED:
            return f"reply MsgType {mtype!r} is not a passive reply type"
        for key in _REPLY_REQUIRED[mtype]:
            if key not in reply:
                return f"{mtype} reply lacks {key}"
        if mtype == "text" and not reply["Content"]:
            return "text reply with empty Content (answer 'success' or nothing instead)"
        if mtype in _REPLY_NESTED:
            tag, keys = _REPLY_NESTED[mtype]
            inner = reply.get(tag)
            if not isinstance(inner, dict) or any(not inner.get(k) for k in keys):
                return f"{mtype} reply: <{tag}> needs {', '.join(keys)}"
        if mtype == "news":
            items = reply.get("Articles")
            if not isinstance(items, list) or not items or str(len(items)) != str(reply["ArticleCount"]):
                return "news reply: ArticleCount does not match the <item>s"
        return None

    # ================================================================ window / quota model
    def _note_user_action(self, xml: str) -> None:
        openid = _peek(xml, "FromUserName")
        mtype = (_peek(xml, "MsgType") or "").lower()
        if not openid or not mtype:
            return
        now = self.now()
        wins = self._windows.setdefault(openid, {})
        if mtype != "event":
            wins["message"] = _Window(now + MESSAGE_WINDOW, MESSAGE_QUOTA)
            return
        ev = (_peek(xml, "Event") or "").lower()
        if ev == "unsubscribe":
            self._windows.pop(openid, None)
        elif ev in _EVENT_OPENS:
            wins["event"] = _Window(now + EVENT_WINDOW, EVENT_QUOTA)

    def open_window(self, openid: str, kind: Literal["message", "event"] = "message") -> None:
        """As if the user had just sent a message (or clicked a menu / followed / scanned)."""
        wins = self._windows.setdefault(openid, {})
        if kind == "message":
            wins["message"] = _Window(self.now() + MESSAGE_WINDOW, MESSAGE_QUOTA)
        else:
            wins["event"] = _Window(self.now() + EVENT_WINDOW, EVENT_QUOTA)

    def close_window(self, openid: str) -> None:
        """Sending to this user now answers 45015 (window over / unfollowed) until they write again."""
        self._windows.pop(openid, None)

    def quota_left(self, openid: str) -> int:
        now = self.now()
        return sum(w.remaining for w in self._windows.get(openid, {}).values() if w.until > now)

    def _consume_window(self, openid: str) -> int:
        now = self.now()
        live = [w for w in self._windows.get(openid, {}).values() if w.until > now]
        if not live:
            return 45015
        usable = sorted((w for w in live if w.remaining > 0), key=lambda w: w.until)
        if not usable:
            return 45047
        usable[0].remaining -= 1
        return 0

    # ================================================================ fault injection
    def fail_next(self, n: int, errcode: int, path: str | None = "/cgi-bin/message/custom/send") -> None:
        """The next `n` calls to `path` (None: any API path) answer {"errcode": errcode, ...}."""
        self._failures.append([n, errcode, path])

    def down(self, is_down: bool = True) -> None:
        """While down, every route of the API server answers HTTP 503."""
        self._down = is_down

    def invalidate_token(self) -> None:
        """Every access_token issued so far answers 40001 from now on."""
        for tok in self._tokens.values():
            tok.valid = False

    def add_media(self, media_id: str, data: bytes, content_type: str = "image/jpeg", *,
                  as_video_url: bool = False) -> None:
        """Register a temporary media file for /cgi-bin/media/get. `as_video_url=True` answers
        {"video_url": ...} instead of the bytes, as the documented 视频素材 answer."""
        self._media[media_id] = _Media(data, content_type, as_video_url)

    def add_picture(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Register bytes for GET /pic/{name}; returns pic_url(name) when started."""
        self._pics[name] = (data, content_type)
        return self.pic_url(name) if self._api_base else f"/pic/{name}"

    # ================================================================ waiting
    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, items: Callable[[], list[Any]], predicate: Callable[[Any], bool],
                    timeout: float, what: str) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for item in list(items()):
                try:
                    if predicate(item):
                        return item
                except (KeyError, TypeError, IndexError, AttributeError):
                    pass
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError(f"no {what} matched within {timeout:g} s; have {items()!r}")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_sent(self, predicate: Callable[[dict[str, Any]], bool] = lambda m: True,
                        timeout: float = 10.0) -> dict[str, Any]:
        """The first accepted 客服消息 (JSON dict) matching `predicate`, waiting up to `timeout`."""
        return await self._wait(lambda: self.sent, predicate, timeout, "sent message")

    async def wait_call(self, predicate: Callable[[ApiCall], bool], timeout: float = 10.0) -> ApiCall:
        """The first API call (any route, any outcome) matching `predicate`."""
        return await self._wait(lambda: self.api_calls, predicate, timeout, "API call")

    # ================================================================ API server
    def _record(self, request: web.Request, body: Any, status: int, errcode: int | None) -> None:
        self.api_calls.append(ApiCall(request.method, request.path, dict(request.query), body, status,
                                      errcode, self.now()))
        self._notify()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        if self._down:
            self._record(request, b"", 503, None)
            return web.Response(status=503, text="<html><body>503 Service Unavailable</body></html>",
                                content_type="text/html")
        return await handler(request)

    def _err(self, request: web.Request, errcode: int, body: Any = b"", errmsg: str | None = None) -> web.Response:
        msg = errmsg if errmsg is not None else ERRMSG.get(errcode, "error")
        rid = f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"
        self._record(request, body, 200, errcode)
        return _json({"errcode": errcode, "errmsg": f"{msg} rid: {rid}"})

    def _injected(self, path: str) -> int | None:
        for entry in self._failures:
            n, errcode, p = entry
            if n > 0 and (p is None or p == path):
                entry[0] -= 1
                if entry[0] <= 0:
                    self._failures.remove(entry)
                return errcode
        return None

    def _token_error(self, request: web.Request) -> int | None:
        tok = request.query.get("access_token")
        if not tok:
            return 41001
        state = self._tokens.get(tok)
        if state is None or not state.valid:
            return 40001
        if self.now() >= state.expires_at:
            return 42001
        return None

    async def _h_token(self, request: web.Request) -> web.Response:
        q = request.query
        injected = self._injected(request.path)
        if injected is not None:
            return self._err(request, injected)
        if q.get("grant_type") != "client_credential":
            return self._err(request, 40002)
        if not q.get("appid"):
            return self._err(request, 41002)
        if q["appid"] != self.account.appid:
            return self._err(request, 40013)
        if not q.get("secret"):
            return self._err(request, 41004)
        if q["secret"] != self.account.appsecret:
            return self._err(request, 40125)
        now = self.now()
        for old in self._tokens.values():  # the previous token stays usable for 5 minutes
            old.expires_at = min(old.expires_at, now + TOKEN_OVERLAP)
        self.token_fetches += 1
        token = f"{self.token_fetches}_" + secrets.token_urlsafe(96).replace("-", "_")
        self._tokens[token] = _Token(now + self.token_expires_in)
        self.current_token = token
        answer = {"access_token": token, "expires_in": self.token_expires_in}
        self._record(request, b"", 200, 0)
        return _json(answer)

    async def _h_media(self, request: web.Request) -> web.Response:
        err = self._token_error(request) or self._injected(request.path)
        if err:
            return self._err(request, err)
        media_id = request.query.get("media_id", "")
        media = self._media.get(media_id)
        if media is None:
            return self._err(request, 40007)
        if media.as_video_url:
            self._record(request, b"", 200, None)
            return _json({"video_url": f"{self.api_base}/video/{media_id}"})
        self._record(request, b"", 200, None)
        return _media_response(media_id, media.data, media.content_type)

    async def _h_video(self, request: web.Request) -> web.Response:
        media = self._media.get(request.match_info["media_id"])
        if media is None:
            self._record(request, b"", 404, None)
            raise web.HTTPNotFound()
        self._record(request, b"", 200, None)
        return _media_response(request.match_info["media_id"], media.data, media.content_type)

    async def _h_pic(self, request: web.Request) -> web.Response:
        pic = self._pics.get(request.match_info["name"])
        if pic is None:
            self._record(request, b"", 404, None)
            raise web.HTTPNotFound()
        self._record(request, b"", 200, None)
        return web.Response(body=pic[0], headers={"Content-Type": pic[1]})

    async def _h_custom_send(self, request: web.Request) -> web.Response:
        raw = await request.read()
        err = self._token_error(request) or self._injected(request.path)
        if err:
            return self._err(request, err, raw)
        try:
            msg = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self._err(request, 47001, raw)
        if not isinstance(msg, dict):
            return self._err(request, 47001, raw)
        code = _validate_custom(msg)
        if code:
            return self._err(request, code, msg)
        code = self._consume_window(msg["touser"])
        if code:
            return self._err(request, code, msg)
        self.sent.append(msg)
        self._record(request, msg, 200, 0)
        return _json({"errcode": 0, "errmsg": "ok"})


def _validate_custom(msg: dict[str, Any]) -> int:
    touser = msg.get("touser")
    if not isinstance(touser, str) or not _OPENID_RE.match(touser):
        return 40003
    mtype = msg.get("msgtype")
    if mtype not in _CUSTOM_REQUIRED:
        return 40008
    payload = msg.get(mtype)
    if not isinstance(payload, dict):
        return 47001
    for key in _CUSTOM_REQUIRED[mtype]:
        if key not in payload:
            return 47001
    if mtype == "text":
        if not isinstance(payload["content"], str):
            return 47001
        if not payload["content"]:
            return 44004
    if mtype == "news":
        arts = payload["articles"]
        if not isinstance(arts, list) or len(arts) != 1 or not isinstance(arts[0], dict):
            return 47001  # since 2018 a 客服 news message carries exactly one article
    for key in ("media_id", "thumb_media_id"):
        if key in payload and (not isinstance(payload[key], str) or not payload[key]):
            return 40007
    cs = msg.get("customservice")
    if cs is not None and (not isinstance(cs, dict) or not isinstance(cs.get("kf_account"), str)
                           or "@" not in cs["kf_account"]):
        return 47001
    return 0


def _json(obj: Any) -> web.Response:
    return web.Response(body=json.dumps(obj, ensure_ascii=False).encode("utf-8"),
                        headers={"Content-Type": JSON_TYPE})


def _media_response(media_id: str, data: bytes, content_type: str) -> web.Response:
    ext = _EXT.get(content_type.split(";")[0].strip(), "bin")
    return web.Response(body=data, headers={
        "Content-Type": content_type,
        "Content-disposition": f'attachment; filename="{media_id}.{ext}"',
        "Cache-Control": "no-cache, must-revalidate",
    })


def _corrupt(sig: str) -> str:
    return ("0" if sig[0] != "0" else "1") + sig[1:]


_WECHAT_HEADERS = {"User-Agent": "Mozilla/4.0", "Accept": "*/*", "Pragma": "no-cache"}
