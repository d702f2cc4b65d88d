"""The WeChat channel's settings."""
from __future__ import annotations

from dataclasses import dataclass

from gateway.settings import SettingsSection


@dataclass(frozen=True)
class WeChatSettings(SettingsSection):
    """Official accounts by name; each reads HOTLINE_WECHAT_<NAME>_TOKEN/_APPID/_AES_KEY/_SECRET."""
    wechat_accounts: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_max_body_bytes: int = 64 * 1024
    wechat_reply_budget_seconds: float = 3.0  # WeChat waits 5 s; past this the answer goes as a 客服消息
    wechat_draft_sweep_seconds: float = 60.0  # how often abandoned 我要反映 drafts are looked for and closed
