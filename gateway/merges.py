"""合并: a duplicate (the secondary) is attached to the case of the ticket it repeats (the
primary) instead of being forwarded again. The case system hears of it through the outbox hop
`related` (signed like every forward: docs/case-system.md), and the citizen's /track for the
secondary shows the primary's progress.

Only a candidate the duplicate check recorded on the secondary (`links.duplicates`) can be its
primary, so a forged or mistyped merge is refused. The secondary's `case` hop marker is claimed
first: of a merge and a forward racing for one ticket, exactly one wins.
"""
from __future__ import annotations

from typing import Any

from gateway import clock, keys
from gateway.errors import ApiError
from gateway.outbox import CASE_HOP, Outbox
from gateway.ticket import Forwarded, HistoryEvent, Merged, Status, Ticket
from gateway.tickets import TicketNotFound, Tickets

RELATED_HOP = "related"


class MergeRefused(ApiError):
    """The merge cannot be made: status, code, Chinese message."""


def _check(secondary: Ticket, primary: Ticket) -> None:
    if isinstance(secondary.disposition, Merged):
        raise MergeRefused(409, "already_merged", f"该工单已合并至 {secondary.disposition.into}")
    if primary.id not in [c.ticket_id for c in secondary.links.duplicates]:
        raise MergeRefused(409, "not_a_duplicate_candidate", "目标工单不在该工单的疑似重复列表中，不能合并")
    if isinstance(primary.disposition, Merged):
        raise MergeRefused(409, "primary_merged", f"目标工单已合并至 {primary.disposition.into}，请合并至该工单")
    if primary.status == Status.closed:
        raise MergeRefused(409, "primary_closed", "目标工单已办结，不能再并入；请将本工单转派办理")


async def merge(tickets: Tickets, outbox: Outbox, secondary_id: str, primary_id: str, actor: str) -> Ticket:
    """Attach the secondary to the primary's case; the secondary is never forwarded again."""
    if secondary_id == primary_id:
        raise MergeRefused(422, "validation_failed", "不能与自身合并", [{"field": "into", "code": "same_ticket", "message": "请选择另一张工单"}])
    try:
        secondary = await tickets.document(secondary_id)
    except TicketNotFound:
        raise MergeRefused(404, "ticket_not_found", "工单不存在") from None
    try:
        primary = await tickets.document(primary_id)
    except TicketNotFound:
        raise MergeRefused(404, "primary_not_found", "要合并到的工单不存在") from None
    _check(secondary, primary)
    if not isinstance(primary.disposition, Forwarded) and not await tickets.redis.exists(keys.hop_marker(primary_id, CASE_HOP)):
        raise MergeRefused(409, "primary_not_forwarded", "目标工单尚未转派，请先转派目标工单再合并")
    # Claim the secondary's forward: a forward after this finds it taken, and one before it wins.
    if not await tickets.redis.set(keys.hop_marker(secondary_id, CASE_HOP), f"merged:{primary_id}", nx=True):
        raise MergeRefused(409, "already_forwarded", "该工单已转派，不能再合并")
    now = clock.now()

    def attach(ticket: Ticket) -> dict[str, Any]:
        _check(ticket, primary)
        ticket.status = Status.merged
        ticket.disposition = Merged(at=now, into=primary_id, by=actor)
        if primary_id not in ticket.links.related:
            ticket.links.related.append(primary_id)
        return {"into": primary_id}

    try:
        merged = await tickets.update(secondary_id, attach, HistoryEvent(at=now, actor=actor, event="merged"))
    except MergeRefused:
        await tickets.redis.delete(keys.hop_marker(secondary_id, CASE_HOP))
        raise

    def note(ticket: Ticket) -> dict[str, Any]:
        if secondary_id not in ticket.links.related:
            ticket.links.related.append(secondary_id)
        return {"duplicate": secondary_id}

    await tickets.update(primary_id, note, HistoryEvent(at=now, actor=actor, event="duplicate_attached"))
    await outbox.enqueue(secondary_id, RELATED_HOP, HistoryEvent(at=now, actor=actor, event="related_queued",
                                                                 detail={"hop": RELATED_HOP, "into": primary_id, "reason": "告知派单系统：本工单与目标工单为同一诉求"}))
    return merged
