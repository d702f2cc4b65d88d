"""Storing a 回访 answer and reading the callback lists (the rules are gateway/followups.py)."""
from __future__ import annotations

from typing import Any

from gateway import clock, keys
from gateway.followups import FollowUpIn, FollowUpRefused, open_since
from gateway.redis_values import text
from gateway.ticket import FollowUp, HistoryEvent, Ticket
from gateway.tickets import TicketNotFound, Tickets


async def record_followup(tickets: Tickets, ticket_id: str, answer: FollowUpIn, channel: str, by: str) -> Ticket:
    """Store the answer once. Raises FollowUpRefused: 404 unknown ticket, 409 not yet open for a
    回访, 409 already answered."""
    now = clock.now()

    def store(ticket: Ticket) -> dict[str, Any]:
        if ticket.followup is not None:
            raise FollowUpRefused(409, "followup_already_answered", "该工单已经评价过，每个工单只能评价一次")
        if open_since(ticket) is None:
            raise FollowUpRefused(409, "followup_not_open", "该工单尚未答复或办结，暂不能评价")
        ticket.followup = FollowUp(resolved=answer.resolved, satisfaction=answer.satisfaction, reason=answer.reason or None,
                                   at=now, channel=channel, by=by)
        return {"resolved": answer.resolved, "satisfaction": answer.satisfaction, "channel": channel}

    try:
        return await tickets.update(ticket_id, store, HistoryEvent(at=now, actor=by, event="followup_answered"))
    except TicketNotFound:
        raise FollowUpRefused(404, "ticket_not_found", "工单不存在") from None


async def callback_list(tickets: Tickets, channel: str, limit: int = 100) -> list[Ticket]:
    """Tickets of `channel` waiting for their 回访 callback, the longest waiting first."""
    ids = await tickets.redis.zrange(keys.followups_open(channel), 0, limit - 1)
    if not ids:
        return []
    docs = await tickets.redis.mget([keys.ticket(text(i)) for i in ids])
    return [Ticket.model_validate_json(d) for d in docs if d is not None]
