"""Late WeChat answers as customer-service messages, through the outbox: one hop per message
(`wx-reply:<message key>`), so a retry of the delivery never sends twice, every attempt is in
the ticket's ledger, and an answer WeChat will not take is a dead letter staff can see.

WeChat accepts customer-service messages only inside a window opened by the user: 48 hours
after they send a message, a minute after a menu tap, follow or scan. Outside it (or on 45015 /
45047) the answer stays on the ticket for an agent instead of being retried. The closing notice
of a case (notices.py) is kept instead, and sent after the user's next message."""
from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from channels.wechat import keys as wx_keys
from channels.wechat.accounts import WeChatAccount
from channels.wechat.followup import ask
from channels.wechat.notices import NOTICE_HOP, WeChatNoticeTarget, forget_kept, take_kept
from channels.wechat.settings import WeChatSettings
from channels.wechat.window import CustomerServiceTarget, send_customer_text, window_key
from gateway import clock
from gateway.delivery_targets import DeliveryResult, DeliveryTarget
from gateway.outbox import Outbox
from gateway.settings import Settings
from gateway.ticket import HistoryEvent, Ticket

REPLY_HOP = "wx-reply"
MESSAGE_WINDOW = 48 * 3600
EVENT_WINDOW = 60
REPLY_TTL = 7 * 24 * 3600


def _reply_key(ticket_id: str, hop: str) -> str:
    return wx_keys.reply(ticket_id, hop)


async def note_user_activity(redis: Redis, account: WeChatAccount, message: Any) -> None:
    """Open (or extend) the user's customer-service window."""
    if getattr(message, "id", 0):
        await redis.set(window_key(account.name, message.source), "message", ex=MESSAGE_WINDOW)
    elif getattr(message, "event", "") == "unsubscribe":
        await redis.delete(window_key(account.name, message.source))  # nothing may be sent to them any more
    elif getattr(message, "event", "") in ("click", "subscribe", "subscribe_scan", "scan"):
        # A tap opens a short window; it must not shorten a 48-hour one.
        await redis.set(window_key(account.name, message.source), "event", ex=EVENT_WINDOW, nx=True)


async def queue_reply(redis: Redis, outbox: Outbox, account: WeChatAccount, openid: str, ticket_id: str, message_key: str, text: str,
                      reason: str = "超过被动回复时限，改用客服消息发送") -> None:
    hop = f"{REPLY_HOP}:{message_key}"
    await redis.set(_reply_key(ticket_id, hop), json.dumps({"account": account.name, "openid": openid, "text": text}, ensure_ascii=False),
                    ex=REPLY_TTL)
    await outbox.enqueue(ticket_id, hop, HistoryEvent(at=clock.now(), actor="wechat", event="reply_queued",
                                                      detail={"hop": hop, "reason": reason}))


async def release_kept_notices(redis: Redis, outbox: Outbox, account: WeChatAccount, message: Any) -> None:
    """After a user's message (48 hours of window again): the closing notices kept for them go
    out as customer-service replies, through the outbox."""
    if not getattr(message, "id", 0):
        return
    for ticket_id, notice in (await take_kept(redis, account.name, message.source)).items():
        await queue_reply(redis, outbox, account, message.source, ticket_id, "notice:closed", notice,
                          reason="市民再次发消息，发送此前暂存的办结告知")
        # The notice ends with the 回访 question; the message that released it is not its answer.
        await ask(redis, account.name, message.source, ticket_id, skip=f"msg:{message.id}")  # service.dedupe_key of a message
        await forget_kept(redis, account.name, message.source, ticket_id)


class WeChatReplyTarget(CustomerServiceTarget):
    name = "wechat-customer-service"

    async def deliver(self, ticket: Ticket, hop: str) -> DeliveryResult:
        raw = await self.redis.get(_reply_key(ticket.id, hop))
        if raw is None:
            return DeliveryResult("reject", error="reply text no longer stored")
        reply = json.loads(raw)
        account = self.accounts.get(reply["account"])
        if account is None:
            return DeliveryResult("reject", error=f"account {reply['account']} not configured")
        if not await self.redis.exists(window_key(account.name, reply["openid"])):
            return DeliveryResult("reject", error="outside the customer-service window (48 h after the user's last message)")
        return await send_customer_text(self.api, account, reply["openid"], reply["text"])


def outbound(settings: Settings, redis: Redis) -> dict[str, DeliveryTarget]:
    """The hops this channel delivers: replies to citizens through the customer-service API, and
    the closing notice the kernel asks for by name (`channels/wechat/notices.py`)."""
    wechat = settings.section(WeChatSettings)
    if not wechat.wechat_accounts:
        return {}
    return {REPLY_HOP: WeChatReplyTarget(redis, wechat), NOTICE_HOP: WeChatNoticeTarget(redis, wechat)}
