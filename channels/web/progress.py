"""What a citizen reads on /track: the public status, the timeline in public wording, the due
date in force and the result (from the case system's 办结, or a partner hotline's). Only what
the citizen may read: no agent notes, no case-system remarks, no ledger."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway import clock
from gateway.followups import open_since
from gateway.ticket import KIND_LABELS, SATISFACTION_LABELS, STATUS_LABELS, HistoryEvent, Merged, Ticket, Transferred
from gateway.tickets import TicketNotFound, Tickets

_CASE_LABELS = {"accepted": "承办单位已受理", "in_progress": "承办单位正在办理", "postponed": "延期办理", "closed": "已办结"}
_CASE_STATUS_LABELS = {"accepted": "承办单位已受理", "in_progress": "办理中", "postponed": "延期办理中", "closed": "已办结"}
_PARTNER_LABELS = {"accepted": "已受理", "in_progress": "正在办理", "resolved": "已办结"}


def _date(value: str) -> str:
    return clock.beijing_time_text(datetime.fromisoformat(value))


def _entry(event: HistoryEvent, partner_names: dict[str, str]) -> dict[str, Any] | None:
    d = event.detail
    label: str | None = None
    detail: str | None = None
    if event.event == "received":
        label = "您的诉求已受理"
    elif event.event == "delivered" and d.get("hop") == "case":
        label = "已转派至承办单位办理"
    elif event.event in ("answered", "closed"):
        label = STATUS_LABELS[event.event]
    elif event.event == "case_status":
        label = _CASE_LABELS.get(d.get("status", ""))
        if d.get("status") == "accepted" and d.get("unit"):
            detail = f"承办单位：{d['unit']}"
        if d.get("status") == "postponed":
            detail = f"延期原因：{d.get('reason', '')}；新的办理期限：{_date(d['due_at'])}" if d.get("due_at") else None
    elif event.event == "transfer_requested":
        label = f"已转至{d.get('partner_name') or '外省市12345热线'}办理"
    elif event.event == "merged":
        label = "您的诉求与相同问题的工单合并办理"
    elif event.event == "followup_answered":
        label = "您已评价"
    elif event.event == "partner_status" and d.get("status") in _PARTNER_LABELS:
        label = f"{partner_names.get(d.get('partner', ''), '外省市12345热线')}{_PARTNER_LABELS[d['status']]}"
    if label is None:
        return None
    entry: dict[str, Any] = {"at": event.at.isoformat(), "label": label}
    if detail:
        entry["detail"] = detail
    return entry


def _result(ticket: Ticket, partner_names: dict[str, str]) -> dict[str, Any] | None:
    case = ticket.case
    if case is not None and case.status == "closed" and case.result:
        return {"unit": case.unit, "text": case.result, "at": (case.closed_at or case.status_at).isoformat()}
    disposition = ticket.disposition
    if isinstance(disposition, Transferred) and disposition.partner_status == "resolved" and disposition.result:
        at = disposition.status_at or disposition.at
        return {"unit": partner_names.get(disposition.partner, "外省市12345热线"), "text": disposition.result, "at": at.isoformat()}
    return None


def _status_label(ticket: Ticket) -> str:
    if ticket.case is not None:
        return _CASE_STATUS_LABELS[ticket.case.status]
    disposition = ticket.disposition
    if isinstance(disposition, Transferred) and disposition.partner_status == "resolved":
        return "已办结"
    return STATUS_LABELS.get(ticket.status, ticket.status)


def public_view(ticket: Ticket) -> dict[str, Any]:
    # A partner's name as the agent's transfer recorded it (the directory is the partner channel's).
    partner_names = {e.detail["partner"]: e.detail["partner_name"] for e in ticket.history
                     if e.event == "transfer_requested" and e.detail.get("partner") and e.detail.get("partner_name")}
    due = ticket.case.due_at if ticket.case is not None and ticket.case.due_at else ticket.due_at
    timeline = [entry for event in ticket.history if (entry := _entry(event, partner_names)) is not None]
    return {
        "ticket_id": ticket.id,
        "status": ticket.status,
        "status_label": _status_label(ticket),
        "kind": ticket.kind,
        "kind_label": KIND_LABELS.get(ticket.kind, "待分类"),
        "received_at": ticket.received_at.isoformat(),
        "due_at": due.isoformat(),
        "postponed": ticket.case is not None and ticket.case.due_at is not None,
        "district": ticket.location.district if ticket.location else None,
        "timeline": timeline,
        "result": _result(ticket, partner_names),
        "followup": _followup(ticket),
    }


def _followup(ticket: Ticket) -> dict[str, Any]:
    """Whether the citizen may give their 回访 answer now, or what they answered."""
    answer = ticket.followup
    if answer is None:
        return {"open": open_since(ticket) is not None, "answer": None}
    return {"open": False, "answer": {"resolved": answer.resolved, "satisfaction": answer.satisfaction,
                                      "satisfaction_label": SATISFACTION_LABELS[answer.satisfaction], "at": answer.at.isoformat()}}


async def public_view_of(tickets: Tickets, ticket: Ticket) -> dict[str, Any]:
    """The public view; a ticket merged into another shows that one's progress (its case
    handles both), under the citizen's own ticket id."""
    if not isinstance(ticket.disposition, Merged):
        return public_view(ticket)
    own = public_view(ticket)
    try:
        primary = await tickets.get(ticket.disposition.into)
    except TicketNotFound:
        return own
    view = public_view(primary)
    merged_at = {"at": ticket.disposition.at.isoformat(), "label": "您的诉求与相同问题的工单合并办理",
                 "detail": f"合并至工单 {primary.id}，办理进展以该工单为准"}
    view.update({
        "ticket_id": ticket.id, "merged_into": primary.id, "received_at": own["received_at"], "kind": own["kind"],
        "kind_label": own["kind_label"], "followup": own["followup"],
        "timeline": [*[e for e in own["timeline"] if e["label"] != merged_at["label"]], merged_at,
                     *[e for e in view["timeline"] if e["label"] != "您的诉求已受理"]],
    })
    return view
