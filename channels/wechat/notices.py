"""The closing notice (办结告知) of a WeChat citizen's case: when the case system closes the case,
the kernel queues this channel's notice hop (`notice-wechat:closed`, gateway/case_updates.py).

Inside the customer-service window the notice is sent at once. Outside it (or when WeChat says
45015/45047) it is kept for that user, the ledger saying so, and queued as a customer-service
reply right after their next message, which opens the window again (outbound.py)."""
from __future__ import annotations

from redis.asyncio import Redis

from channels.wechat import keys as wx_keys
from channels.wechat.api import OUT_OF_WINDOW
from channels.wechat.followup import ASK_RESOLVED, ask
from channels.wechat.window import CustomerServiceTarget, send_customer_text, window_key
from gateway import clock
from gateway.case_updates import notice_hop
from gateway.delivery_targets import DeliveryResult
from gateway.redis_values import text
from gateway.ticket import Ticket

NOTICE_HOP = notice_hop("wechat")
KEPT_TTL = 90 * 24 * 3600  # a user who comes back within three months still hears of it
KEPT_NOTE = "市民不在客服消息48小时窗口内，办结告知已暂存，待其下次发消息后发送"
_RESULT_MAX = 600  # characters of the result in the message; the rest is on /track


def kept_key(account: str, openid: str) -> str:
    """ticket id -> the notice text, for one user"""
    return wx_keys.kept_notices(account, openid)


def closing_text(ticket: Ticket) -> str:
    case = ticket.case
    assert case is not None and case.status == "closed"
    result = case.result or ""
    if len(result) > _RESULT_MAX:
        result = result[:_RESULT_MAX] + "……"
    lines = [f"【北京12345】您反映的诉求（工单号 {ticket.id}）已办结。"]
    if case.unit:
        lines.append(f"承办单位：{case.unit}")
    lines.append(f"办结时间：{clock.beijing_time_text(case.closed_at or case.status_at)}")
    lines.append(f"办理结果：{result}")
    lines.append("如对办理结果有疑问，可直接回复本公众号，或拨打12345热线。")
    lines.append(ASK_RESOLVED)  # 回访: the reply is taken by the dialogue (followup.py)
    return "\n".join(lines)


async def take_kept(redis: Redis, account: str, openid: str) -> dict[str, str]:
    """The notices kept for this user (ticket id -> text); each is forgotten with `forget_kept`
    once it is queued, so a crash in between sends it later rather than never."""
    return {text(k): text(v) for k, v in (await redis.hgetall(kept_key(account, openid))).items()}


async def forget_kept(redis: Redis, account: str, openid: str, ticket_id: str) -> None:
    await redis.hdel(kept_key(account, openid), ticket_id)


class WeChatNoticeTarget(CustomerServiceTarget):
    name = "wechat-notice"

    async def deliver(self, ticket: Ticket, hop: str) -> DeliveryResult:
        openid, account_name = ticket.requester.wechat_openid, ticket.source.extra.get("account", "")
        account = self.accounts.get(account_name)
        if not openid or account is None:
            return DeliveryResult("reject", error=f"no WeChat user to tell (account {account_name!r} not configured or no openid)")
        if ticket.case is None or ticket.case.status != "closed":
            return DeliveryResult("reject", error="the case is not closed")
        notice = closing_text(ticket)
        if not await self.redis.exists(window_key(account.name, openid)):
            return await self._keep(account.name, openid, ticket.id, notice)
        result = await send_customer_text(self.api, account, openid, notice)
        if result.outcome == "reject" and any(f"WeChat {code}:" in (result.error or "") for code in OUT_OF_WINDOW):
            return await self._keep(account.name, openid, ticket.id, notice)
        if result.outcome == "delivered":
            await ask(self.redis, account.name, openid, ticket.id)
        return result

    async def _keep(self, account: str, openid: str, ticket_id: str, notice: str) -> DeliveryResult:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(kept_key(account, openid), ticket_id, notice)
            pipe.expire(kept_key(account, openid), KEPT_TTL)
            await pipe.execute()
        return DeliveryResult("delivered", note=KEPT_NOTE)
