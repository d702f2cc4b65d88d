"""The supervisor wall's watch lists: which tickets are due or overdue, which wait for a response,
which are held as 疑似重复, which have coordinates for the map. Like the rate counters, membership is a function of the
ticket (`indexes`) kept by every ticket write in the same Redis step (gateway/derived.py), so the
wall reads a few sorted-set ranges instead of scanning tickets."""
from __future__ import annotations

from gateway import keys
from gateway.deadlines import respond_by
from gateway.open_requests import is_open_request
from gateway.ticket import Status, Ticket


def deadline(ticket: Ticket) -> float:
    """The handling deadline in force: the case system's after a 延期, else the ticket's."""
    due = ticket.case.due_at if ticket.case and ticket.case.due_at else ticket.due_at
    return due.timestamp()


def indexes(ticket: Ticket | None) -> dict[str, float]:
    if ticket is None:
        return {}
    out: dict[str, float] = {}
    if is_open_request(ticket):
        out[keys.DUE_OPEN] = deadline(ticket)
        if ticket.status == Status.received.value and ticket.disposition is None:
            out[keys.AWAITING_RESPONSE] = respond_by(ticket.received_at, ticket.urgency).timestamp()
            if ticket.links.duplicates:
                out[keys.DUPLICATES_HELD] = ticket.received_at.timestamp()
    location = ticket.location
    if location is not None and location.latitude is not None and location.longitude is not None:
        out[keys.POINTS] = ticket.received_at.timestamp()
    return out
