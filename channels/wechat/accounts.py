"""Official-account credentials, from the environment only.

`HOTLINE_WECHAT_ACCOUNTS=main,tianqi` names the accounts; each reads
`HOTLINE_WECHAT_<NAME>_TOKEN`, `_APPID`, `_AES_KEY` (the 43-character EncodingAESKey) and
`_SECRET` (the AppSecret, for the access token) and `_MODE`, the 消息加解密方式 configured for the
account on WeChat's side (公众平台 › 基本配置): `plaintext` (明文), `compatible` (兼容) or `safe`
(安全, the default). The mode decides which pushes are taken (see `envelope.py`): in `safe` mode a
push without `encrypt_type=aes` is refused, so a captured signature cannot be reused with a
forged plaintext body. The callback URL of account `main` is `/wechat/main`.

`HOTLINE_WECHAT_TIMESTAMP_WINDOW_SECONDS` (default 300) is how far a push's `timestamp` may lie
from the gateway's clock, either way.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_TOKEN = re.compile(r"^[A-Za-z0-9]{3,32}$")
_AES_KEY = re.compile(r"^[A-Za-z0-9]{43}$")
MODES = ("plaintext", "compatible", "safe")
DEFAULT_MODE = "safe"
DEFAULT_WINDOW_SECONDS = 300


@dataclass(frozen=True)
class WeChatAccount:
    name: str
    token: str
    appid: str
    aes_key: str
    secret: str
    mode: str = DEFAULT_MODE  # plaintext | compatible | safe, as configured on WeChat's side

    def __repr__(self) -> str:  # never print secrets
        return f"WeChatAccount({self.name!r}, appid={self.appid!r}, mode={self.mode!r})"


def load_accounts(names: str, environ: Mapping[str, str] = os.environ) -> dict[str, WeChatAccount]:
    accounts: dict[str, WeChatAccount] = {}
    for name in (n.strip().lower() for n in names.split(",")):
        if not name:
            continue
        if not _NAME.match(name):
            raise ValueError(f"HOTLINE_WECHAT_ACCOUNTS: bad account name {name!r}")
        prefix = f"HOTLINE_WECHAT_{name.upper().replace('-', '_')}_"
        values = {part: environ.get(prefix + part, "") for part in ("TOKEN", "APPID", "AES_KEY", "SECRET")}
        missing = [prefix + k for k, v in values.items() if not v]
        if missing:
            raise ValueError(f"WeChat account {name}: set {', '.join(missing)}")
        if not _TOKEN.match(values["TOKEN"]):
            raise ValueError(f"{prefix}TOKEN must be 3-32 letters or digits")
        if not _AES_KEY.match(values["AES_KEY"]):
            raise ValueError(f"{prefix}AES_KEY must be the 43-character EncodingAESKey")
        mode = environ.get(prefix + "MODE", "").strip().lower() or DEFAULT_MODE
        if mode not in MODES:
            raise ValueError(f"{prefix}MODE must be plaintext, compatible or safe (the 消息加解密方式 set in "
                             f"公众平台 › 基本配置), not {environ.get(prefix + 'MODE')!r}")
        accounts[name] = WeChatAccount(name, values["TOKEN"], values["APPID"], values["AES_KEY"], values["SECRET"], mode)
    return accounts


def load_window(environ: Mapping[str, str] = os.environ) -> int:
    """Seconds a push's timestamp may differ from now (HOTLINE_WECHAT_TIMESTAMP_WINDOW_SECONDS)."""
    raw = environ.get("HOTLINE_WECHAT_TIMESTAMP_WINDOW_SECONDS", "").strip()
    if not raw:
        return DEFAULT_WINDOW_SECONDS
    try:
        window = int(raw)
    except ValueError:
        window = 0
    if not 1 <= window <= 3600:
        raise ValueError(f"HOTLINE_WECHAT_TIMESTAMP_WINDOW_SECONDS must be whole seconds between 1 and 3600, not {raw!r}")
    return window
