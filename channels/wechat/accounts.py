"""Official-account credentials, from the environment only.

`HOTLINE_WECHAT_ACCOUNTS=main,tianqi` names the accounts; each reads
`HOTLINE_WECHAT_<NAME>_TOKEN`, `_APPID`, `_AES_KEY` (the 43-character EncodingAESKey) and
`_SECRET` (the AppSecret, for the access token). The callback URL of account `main` is
`/wechat/main`.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_TOKEN = re.compile(r"^[A-Za-z0-9]{3,32}$")
_AES_KEY = re.compile(r"^[A-Za-z0-9]{43}$")


@dataclass(frozen=True)
class WeChatAccount:
    name: str
    token: str
    appid: str
    aes_key: str
    secret: str

    def __repr__(self) -> str:  # never print secrets
        return f"WeChatAccount({self.name!r}, appid={self.appid!r})"


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
        accounts[name] = WeChatAccount(name, values["TOKEN"], values["APPID"], values["AES_KEY"], values["SECRET"])
    return accounts
