"""The short view of a ticket that agent lists and live pushes carry."""
from __future__ import annotations

from typing import Any

from gateway.phone_numbers import mask
from gateway.ticket import KIND_LABELS, STATUS_LABELS, Ticket


def summary(ticket: Ticket) -> dict[str, Any]:
    content = ticket.content.strip().replace("\n", " ")
    return {
        "id": ticket.id,
        "channel": ticket.channel,
        "kind": ticket.kind,
        "kind_label": KIND_LABELS.get(ticket.kind, "待分类"),
        "status": ticket.status,
        "status_label": STATUS_LABELS.get(ticket.status, ticket.status),
        "received_at": ticket.received_at.isoformat(),
        "due_at": ticket.due_at.isoformat(),
        "district": ticket.location.district if ticket.location else None,
        "summary": content[:80] + ("…" if len(content) > 80 else ""),
        "phone_masked": mask(ticket.requester.phone),
        "confidential": ticket.requester.confidential,
    }
