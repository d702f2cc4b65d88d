"""回访: after an on-the-spot answer or after 办结 the citizen is asked whether the matter was
resolved and how satisfied they are, once per ticket.

Every way an answer arrives (the portal's chat and /track, WeChat, an agent's callback for phone
and video tickets) calls `gateway.followup_answers.record_followup`; the answer is stored on the ticket in one
compare-and-set write, which also moves the rate counters (gateway/rates.py) and takes the ticket
off the callback list (`pending`, applied by gateway/derived.py). A second answer is refused.
"""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gateway import keys
from gateway.errors import ApiError
from gateway.ticket import Answered, Satisfaction, Ticket

# The channels whose citizens are called back for the 回访 (no message can carry the question).
CALLBACK_CHANNELS = frozenset({"phone", "video"})
QUESTION = "本次答复是否解决了您的问题？您是否满意？"


class FollowUpIn(BaseModel):
    """One 回访 answer as a citizen (or an agent on the phone) gives it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    resolved: bool = Field(description="是否解决")
    satisfaction: Satisfaction = Field(description="satisfied 满意, basically_satisfied 基本满意, unsatisfied 不满意")
    reason: str | None = Field(None, max_length=500, description="optional reason (不满意的原因等)")


class FollowUpRefused(ApiError):
    """This ticket cannot take this answer: status, code, Chinese message."""


def open_since(ticket: Ticket) -> datetime | None:
    """When the ticket became open for its 回访 (answered on the spot, or 办结); None if not."""
    if ticket.followup is not None:
        return None
    if ticket.case is not None and ticket.case.status == "closed":
        return ticket.case.closed_at or ticket.case.status_at
    if isinstance(ticket.disposition, Answered):
        return ticket.disposition.at
    return None


def pending(ticket: Ticket | None) -> dict[str, float]:
    """The callback list a ticket belongs on (key -> score), for the channels called back."""
    if ticket is None or ticket.channel not in CALLBACK_CHANNELS:
        return {}
    since = open_since(ticket)
    return {keys.followups_open(ticket.channel): since.timestamp() * 1000} if since else {}
