"""The open requests the duplicate check compares a new one with (triage/duplicates.py): each
open, filed request sits in its district's index and its requester's index, scored by intake
time. Membership is a function of the ticket (`indexes`), kept by every ticket write in the same
Redis step (gateway/derived.py): a ticket leaves when it is closed, merged or withdrawn."""
from __future__ import annotations

import hashlib

from gateway import keys
from gateway.ticket import Status, Ticket

OPEN = {Status.received.value, Status.forwarded.value}
_UNFILED_MODES = {"chat", "collecting"}


def requester_ids(ticket: Ticket) -> list[str]:
    """Digests of who filed it (phone, callback phone, WeChat id): key names carry no number."""
    who = [ticket.requester.phone, ticket.requester.callback_phone, ticket.requester.wechat_openid]
    return [hashlib.sha256(w.encode()).hexdigest()[:24] for w in dict.fromkeys(w for w in who if w)]


def is_open_request(ticket: Ticket) -> bool:
    if ticket.status not in OPEN or not ticket.content.strip():
        return False
    # A conversation or a WeChat draft becomes a request once the citizen left a phone number.
    return ticket.source.extra.get("mode") not in _UNFILED_MODES or bool(ticket.requester.phone)


def indexes(ticket: Ticket | None) -> dict[str, float]:
    if ticket is None or not is_open_request(ticket):
        return {}
    score = ticket.received_at.timestamp() * 1000
    district = ticket.location.district_code if ticket.location and ticket.location.district_code else "none"
    out = {keys.open_by_district(district): score}
    out.update({keys.open_by_requester(digest): score for digest in requester_ids(ticket)})
    return out
