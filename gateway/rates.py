"""The three rates (响应率, 解决率, 满意率) and the supervisor wall's volumes as counters, bucketed
by hour, never by scanning tickets.

What a ticket adds to the counters is a pure function of the ticket (`contribution`); every
write of a ticket (intake's script, `Tickets.update`'s compare-and-set) applies the difference
between its contribution before and after, in the same Redis step (gateway/derived.py). So a
ticket's counts always sit under its latest topic, district and unit, and a re-attributed ticket
moves instead of counting twice.

Keys: `{hl}:rates:<YYYYMMDDHH>` (Beijing hour), a hash. Fields: `<counter>` (all tickets) and
`<counter>|<dimension>|<value>` for the dimensions channel, kind, topic, district and unit.
The wall reads only the fields it shows (HMGET of the totals and of `received` per known
channel, kind, topic and district), so a quarter is 2,208 small reads, not 2,208 whole hashes.
Besides the rate counters, the outcome counters (answered, forwarded, transferred, diverted,
merged: how each request was responded to) give the wall its 直接答复率 and shares.
The response and closing counters sit in the hour the ticket was received; the 回访 counters in
the hour of the answer. Definitions: docs/rates.md.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from functools import lru_cache

from gateway import keys
from gateway.clock import BEIJING
from gateway.deadlines import respond_by
from gateway.ticket import Abandoned, Answered, Diverted, Forwarded, Merged, Ticket, Transferred

DIMENSIONS = ("channel", "kind", "topic", "district", "unit")
RESPONSE_COUNTERS = ("received", "responded", "responded_on_time", "closed", "closed_on_time")
FOLLOWUP_COUNTERS = ("followups", "resolved", "satisfied", "basically_satisfied", "unsatisfied")
COUNTERS = RESPONSE_COUNTERS + FOLLOWUP_COUNTERS
# How a counted request was responded to, in the hour it was received (the wall's shares).
OUTCOMES: dict[type, str] = {Answered: "answered", Forwarded: "forwarded", Transferred: "transferred",
                             Diverted: "diverted", Merged: "merged"}
WALL_DIMENSIONS = ("channel", "kind", "topic", "district")  # what the wall breaks volumes down by
UNKNOWN = {"kind": "unknown", "topic": "未分类", "district": "未知", "unit": "未指定"}
BUCKET_TTL_SECONDS = 400 * 86400  # a year of history and a little more
# 满意率 = (满意 + BASIC_WEIGHT × 基本满意) / 回访数. We count 基本满意 in full; the raw counts are
# served too, so another weighting can be computed from them.
BASIC_WEIGHT = 1.0
_RESPONSES = (Answered, Forwarded, Transferred, Diverted, Merged)  # the keys of OUTCOMES
_UNFINISHED_MODES = {"chat", "collecting"}  # a conversation or a draft is not yet a request

Contribution = Counter[tuple[str, str]]  # (bucket key, field) -> count


def bucket(at: datetime) -> str:
    return _hour_bucket(int(at.timestamp()) // 3600)


@lru_cache(maxsize=4096)
def _hour_bucket(hour: int) -> str:
    """The bucket name (Beijing hour) of an epoch hour: intake names one for every ticket, and
    formatting dates is a good part of its counting cost."""
    return keys.rates_bucket(datetime.fromtimestamp(hour * 3600, BEIJING).strftime("%Y%m%d%H"))


def dimensions(ticket: Ticket) -> dict[str, str]:
    dispatch = ticket.dispatch
    unit = (ticket.case.unit if ticket.case and ticket.case.unit else None) or (dispatch.unit.name if dispatch and dispatch.unit else None)
    values = {
        "channel": str(ticket.channel),
        "kind": str(ticket.kind) if ticket.kind else None,
        "topic": dispatch.category if dispatch and dispatch.category else None,
        "district": ticket.location.district if ticket.location and ticket.location.district else None,
        "unit": unit,
    }
    return {name: (value or UNKNOWN[name]).replace("|", "/") for name, value in values.items()}


def counted(ticket: Ticket) -> bool:
    """Whether the ticket is a request the response rate counts: not withdrawn, and not a
    conversation or draft that never became one (no answer, no phone left)."""
    if isinstance(ticket.disposition, Abandoned):
        return False
    unfinished = ticket.source.extra.get("mode") in _UNFINISHED_MODES and ticket.disposition is None and not ticket.requester.phone
    return not unfinished


def contribution(ticket: Ticket | None) -> Contribution:
    out: Contribution = Counter()
    if ticket is None:
        return out
    names: list[tuple[datetime, str]] = []
    if counted(ticket):
        received = ticket.received_at
        names.append((received, "received"))
        disposition = ticket.disposition
        if isinstance(disposition, _RESPONSES):
            names.append((received, "responded"))
            names.append((received, OUTCOMES[type(disposition)]))
            if disposition.at <= respond_by(ticket.received_at, ticket.urgency):
                names.append((received, "responded_on_time"))
        case = ticket.case
        if case is not None and case.status == "closed":
            names.append((received, "closed"))
            if (case.closed_at or case.status_at) <= (case.due_at or ticket.due_at):
                names.append((received, "closed_on_time"))
    if (followup := ticket.followup) is not None:
        answered = followup.at
        names.append((answered, "followups"))
        names.append((answered, followup.satisfaction))
        if followup.resolved:
            names.append((answered, "resolved"))
    dims = dimensions(ticket)
    for at, counter in names:
        hour = bucket(at)
        out[(hour, counter)] += 1
        for name, value in dims.items():
            out[(hour, f"{counter}|{name}|{value}")] += 1
    return out


def rates(counts: dict[str, int]) -> dict[str, float | None]:
    """The three rates from one row of counters (None where nothing was counted)."""
    def share(part: float, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    answers = counts.get("followups", 0)
    return {
        "response_rate": share(counts.get("responded_on_time", 0), counts.get("received", 0)),
        "resolution_rate": share(counts.get("resolved", 0), answers),
        "satisfaction_rate": share(counts.get("satisfied", 0) + BASIC_WEIGHT * counts.get("basically_satisfied", 0), answers),
    }


def hours(start: datetime, end: datetime) -> list[datetime]:
    """Every Beijing hour from `start` up to, not including, `end`."""
    at = start.astimezone(BEIJING).replace(minute=0, second=0, microsecond=0)
    out = []
    while at < end:
        out.append(at)
        at += timedelta(hours=1)
    return out
