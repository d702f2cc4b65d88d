"""限时办理: the deadline rules of the regulation (2 h emergency, 24 h utilities, 7 days general, 15 days complex)."""
from __future__ import annotations

from datetime import datetime, timedelta

from gateway.ticket import Urgency

_WINDOWS: dict[str, timedelta] = {
    Urgency.emergency.value: timedelta(hours=2),
    Urgency.utilities.value: timedelta(hours=24),
    Urgency.normal.value: timedelta(days=7),
    Urgency.complex.value: timedelta(days=15),
}


def due_at(received_at: datetime, urgency: str) -> datetime:
    return received_at + _WINDOWS[urgency]
