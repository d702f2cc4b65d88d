"""Status reports from the core case system (受理, 办理中, 延期, 办结) applied to the ticket.

One function, `record_case_update`, for every way a report arrives: the signed API the real case
system calls (server/case_status_routes.py) and a supervisor playing the case system on the
built-in local inbox (server/local_inbox_routes.py). A report is applied at most once (its
`update_id` is kept on the ticket in the same compare-and-set write), only if it moves the case
forward (`CASE_STATUS_RANK`, then time), and 办结 is final. When a case closes, the channel the
citizen came through is asked for its notice hop by name (`notice_hop`), if it registered one;
the kernel never names a channel.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway import clock, keys
from gateway.errors import ApiError
from gateway.outbox import CASE_HOP, Outbox
from gateway.ticket import CASE_STATUS_RANK, CaseProgress, CaseStatus, Forwarded, HistoryEvent, Status, Ticket
from gateway.tickets import TicketNotFound, Tickets

CASE_STATUS_LABELS = {"accepted": "承办单位已受理", "in_progress": "办理中", "postponed": "延期办理", "closed": "已办结"}
CLOSED_NOTICE = "closed"  # the notice hop's suffix: one closing notice per ticket


def notice_hop(channel: str) -> str:
    """The outbox hop family a channel registers (in its `outbound`) to tell its citizen that
    their case was closed; the kernel queues `<family>:closed` when it exists."""
    return f"notice-{channel}"


class CaseUpdateIn(BaseModel):
    """One status report of the case system about one forwarded ticket."""

    # Fields may be added in v1: unknown ones are ignored, as we ask of the case system.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    update_id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$", description="the case system's id of this report; a repeat is answered `duplicate`")
    ticket_id: str = Field(pattern=r"^[A-Z]{2}-\d{8}-\d{6,9}$", examples=["BJ-20261122-000123"])
    case_id: str = Field(min_length=1, max_length=128, description="the case_id the case system answered the forward with")
    status: CaseStatus
    at: AwareDatetime = Field(description="when it happened in the case system (ISO 8601 with offset)")
    unit: str | None = Field(None, min_length=2, max_length=100, description="承办单位; required with `closed`")
    reason: str | None = Field(None, min_length=2, max_length=500, description="延期原因; required with `postponed`")
    due_at: AwareDatetime | None = Field(None, description="the new due date; required with `postponed`, after `at`")
    result: str | None = Field(None, min_length=2, max_length=2000, description="办理结果 as the citizen may read it; required with `closed`")
    note: str | None = Field(None, max_length=500, description="a remark for agents (not shown to the citizen)")


def missing_fields(update: CaseUpdateIn) -> list[dict[str, str]]:
    """What the status requires and the report left out, as per-field errors."""
    errors = []
    if update.status == "postponed":
        if not update.reason:
            errors.append({"field": "reason", "code": "reason_required", "message": "延期须说明原因"})
        if update.due_at is None:
            errors.append({"field": "due_at", "code": "due_at_required", "message": "延期须给出新的办理期限"})
        elif update.due_at <= update.at:
            errors.append({"field": "due_at", "code": "due_at_not_after_at", "message": "新的办理期限须晚于延期时间"})
    if update.status == "closed":
        if not update.result:
            errors.append({"field": "result", "code": "result_required", "message": "办结须包含办理结果"})
        if not update.unit:
            errors.append({"field": "unit", "code": "unit_required", "message": "办结须注明承办单位"})
    return errors


class CaseUpdateRefused(ApiError):
    """The report cannot apply to this ticket (not ours to take): status, code, Chinese message."""


Outcome = Literal["applied", "duplicate", "ignored"]


@dataclass(frozen=True)
class CaseUpdateResult:
    outcome: Outcome
    ticket: Ticket
    ignored_because: Literal["closed", "stale"] | None = None


class _Unchanged(Exception):
    """Raised inside the compare-and-set change: nothing is written."""

    def __init__(self, outcome: Outcome, because: Literal["closed", "stale"] | None = None) -> None:
        super().__init__(outcome)
        self.outcome, self.because = outcome, because


def _judge(case: CaseProgress | None, update: CaseUpdateIn) -> None:
    """Raise _Unchanged for a repeat or an out-of-order report."""
    if case is None:
        return
    if update.update_id in case.update_ids:
        raise _Unchanged("duplicate")
    if case.status == "closed":
        raise _Unchanged("ignored", "closed")  # 办结 is final: a late 办理中 must not reopen it
    if (CASE_STATUS_RANK[update.status], update.at) < (CASE_STATUS_RANK[case.status], case.status_at):
        raise _Unchanged("ignored", "stale")


def _apply(ticket: Ticket, update: CaseUpdateIn) -> dict[str, Any]:
    _judge(ticket.case, update)
    case = ticket.case or CaseProgress(case_id=update.case_id, status=update.status, status_at=update.at)
    case.status, case.status_at = update.status, update.at
    case.unit = update.unit or case.unit
    if update.status == "postponed":
        case.due_at, case.postponed_reason = update.due_at, update.reason
    if update.status == "closed":
        case.result, case.closed_at = update.result, update.at
        ticket.status = Status.closed
    case.update_ids.append(update.update_id)
    ticket.case = case
    return update.model_dump(mode="json", exclude_none=True, exclude={"ticket_id"})


async def _check_ours(tickets: Tickets, update: CaseUpdateIn) -> Ticket:
    try:
        ticket = await tickets.document(update.ticket_id)
    except TicketNotFound:
        raise CaseUpdateRefused(404, "ticket_not_found", "工单不存在") from None
    forwarded = ticket.disposition if isinstance(ticket.disposition, Forwarded) else None
    # Queued but its receipt not yet stored: the case system can answer faster than our ledger.
    queued = forwarded is None and await tickets.redis.exists(keys.hop_marker(ticket.id, CASE_HOP))
    if forwarded is None and not queued:
        raise CaseUpdateRefused(409, "not_forwarded", "该工单未转派至派单系统，不能回告办理状态")
    known_case = forwarded.case_id if forwarded else (ticket.case.case_id if ticket.case else None)
    if known_case and known_case != update.case_id:
        raise CaseUpdateRefused(409, "case_mismatch", "案件编号与该工单转派时的编号不一致")
    return ticket


async def record_case_update(tickets: Tickets, outbox: Outbox, update: CaseUpdateIn, actor: str) -> CaseUpdateResult:
    """Apply one report (already authenticated and validated, `missing_fields` empty). Raises
    CaseUpdateRefused for an unknown, unforwarded or other case's ticket."""
    current = await _check_ours(tickets, update)
    outcome: Outcome = "applied"
    because = None
    try:
        ticket = await tickets.update(update.ticket_id, lambda t: _apply(t, update),
                                      HistoryEvent(at=clock.now(), actor=actor, event="case_status"))
    except _Unchanged as unchanged:
        outcome, because = unchanged.outcome, unchanged.because
        ticket = await tickets.document(update.ticket_id) if outcome == "duplicate" else current
    if ticket.case is not None and ticket.case.status == "closed" and outcome != "ignored":
        # Also on a repeat: if we stopped between storing 办结 and queueing the notice, the case
        # system's retry queues it now (queueing a hop is idempotent).
        await queue_closing_notice(outbox, ticket)
    return CaseUpdateResult(outcome, ticket, because)


async def queue_closing_notice(outbox: Outbox, ticket: Ticket) -> bool:
    """Queue the citizen's closing notice on their channel's hop, if that channel has one."""
    hop = f"{notice_hop(ticket.channel)}:{CLOSED_NOTICE}"
    if not outbox.delivers(hop):
        return False
    event = HistoryEvent(at=clock.now(), actor="system", event="notice_queued", detail={"hop": hop, "reason": "案件已办结，告知市民"})
    return await outbox.enqueue(ticket.id, hop, event)

