"""WeChat's customer-service window (a user's message opens 48 hours, a menu tap one minute), as
the gateway tracks it in Redis, and one customer-service text message as the outbox reads its
outcome. Shared by the late replies (outbound.py) and the closing notices (notices.py)."""
from __future__ import annotations

import asyncio

import aiohttp
from redis.asyncio import Redis

from channels.wechat import keys as wx_keys
from channels.wechat.accounts import WeChatAccount, load_accounts
from channels.wechat.api import OUT_OF_WINDOW, WeChatApi, WeChatApiError, WeChatUnavailable
from channels.wechat.settings import WeChatSettings
from gateway.delivery_targets import DeliveryResult, DeliveryTarget


def window_key(account: str, openid: str) -> str:
    return wx_keys.window(account, openid)


async def send_customer_text(api: WeChatApi, account: WeChatAccount, openid: str, text: str) -> DeliveryResult:
    """One customer-service text message, its outcome as the outbox reads it."""
    try:
        await api.send_text(account, openid, text)
    except WeChatUnavailable as exc:
        return DeliveryResult("retry", exc.status, error=str(exc))
    except WeChatApiError as exc:
        final = exc.errcode in OUT_OF_WINDOW or exc.errcode > 0
        return DeliveryResult("reject" if final else "retry", error=f"WeChat {exc.errcode}: {exc.errmsg}")
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return DeliveryResult("retry", error=type(exc).__name__)
    return DeliveryResult("delivered", 200)


class CustomerServiceTarget(DeliveryTarget):
    """An outbox target that sends through the customer-service API (replies, notices)."""

    def __init__(self, redis: Redis, settings: WeChatSettings) -> None:
        self.redis = redis
        self.accounts = load_accounts(settings.wechat_accounts)
        self.api = WeChatApi(redis, settings.wechat_api_base)

    async def close(self) -> None:
        await self.api.close()
