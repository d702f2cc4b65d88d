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


# 响应时限: by when a request must be answered on the spot or forwarded to its handling unit
# (the 响应率 counts those that were). Emergencies are passed on at once; the rest the same day.
_RESPONSE_WINDOWS: dict[str, timedelta] = {
    Urgency.emergency.value: timedelta(minutes=30),
    Urgency.utilities.value: timedelta(hours=2),
    Urgency.normal.value: timedelta(hours=24),
    Urgency.complex.value: timedelta(hours=24),
}


def respond_by(received_at: datetime, urgency: str) -> datetime:
    return received_at + _RESPONSE_WINDOWS[urgency]
