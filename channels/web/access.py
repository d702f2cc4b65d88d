"""Which ticket a citizen on the portal may see and answer for: with its id and the last four
digits of the phone number they left (/track, and the 回访 after 办结), or, for a chat, with the
random session id only their page holds (the 回访 after the bot's answer). Every miss is the
same 404, so the answer never tells whether a ticket exists."""
from __future__ import annotations

import hmac
import re

from aiohttp import web

from channels.web import keys
from gateway.app_keys import RATE_LIMITER, SETTINGS, TICKETS
from gateway.client_address import client_address
from gateway.errors import ApiError
from gateway.rate_limits import RateLimit
from gateway.ticket import Ticket
from gateway.tickets import TicketNotFound

TICKET_ID = re.compile(r"^[A-Z]{2}-\d{8}-\d{6,9}$")
NOT_FOUND = "未找到该工单，请核对工单号和手机号后四位"


def rate_limited(message: str, retry_after: int) -> ApiError:
    return ApiError(429, "rate_limited", message, headers={"Retry-After": str(retry_after)})


async def _limit(request: web.Request) -> None:
    """Guessing is slowed down: lookups per address, shared by every way in."""
    settings = request.app[SETTINGS]
    bucket = RateLimit(keys.tracking_from(client_address(request)), settings.rate_limit_ip_per_hour * 4, 3600)
    allowed, retry_after = await request.app[RATE_LIMITER].hit(bucket)
    if not allowed:
        raise rate_limited("查询过于频繁，请稍后再试", retry_after)


async def tracked_ticket(request: web.Request, ticket_id: str, last4: str) -> Ticket:
    """The ticket, if the last four digits match its requester's phone."""
    await _limit(request)
    ticket_id = ticket_id.strip().upper()
    last4 = last4.strip()
    errors = []
    if not TICKET_ID.fullmatch(ticket_id):
        errors.append({"field": "ticket_id", "code": "invalid_ticket_id", "message": "工单号格式应为 BJ-20261122-000123"})
    if not re.fullmatch(r"\d{4}", last4):
        errors.append({"field": "phone_last4", "code": "invalid_phone_last4", "message": "请输入手机号后四位数字"})
    if errors:
        raise ApiError(422, "validation_failed", "查询信息有误，请按提示修改", errors)
    not_found = ApiError(404, "not_found", NOT_FOUND)
    try:
        ticket = await request.app[TICKETS].get(ticket_id)
    except TicketNotFound:
        raise not_found from None
    phone = ticket.requester.phone or ""
    if not hmac.compare_digest(phone[-4:].encode(), last4.encode()):
        raise not_found
    return ticket


async def chat_ticket(request: web.Request, session_id: str, ticket_id: str) -> Ticket:
    """A ticket of this chat session (the page's secret): a request of its conversation."""
    await _limit(request)
    not_found = ApiError(404, "not_found", "未找到本次会话中的这条咨询，请刷新页面后重试")
    try:
        ticket = await request.app[TICKETS].document(ticket_id)
    except TicketNotFound:
        raise not_found from None
    session = ticket.source.extra.get("session", "")
    if ticket.channel != "web" or ticket.source.extra.get("mode") != "chat" or not hmac.compare_digest(session.encode(), session_id.encode()):
        raise not_found
    return ticket
