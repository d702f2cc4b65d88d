"""A call → Ticket. Translation only: the call's state comes from the AMI events (calls.py), its
words from the transcription (legs.py)."""
from __future__ import annotations

from datetime import datetime

from channels.phone.calls import Call
from gateway.deadlines import due_at
from gateway.ticket import PENDING_ID, Links, Requester, Source, Ticket, Urgency

PENDING_CONTENT = "电话来电，通话内容见语音转写。"


def call_ticket(call: Call, phone: str | None, repeat_caller: list[str], now: datetime) -> Ticket:
    """The call's ticket, opened when it reaches the hotline; `phone` is the caller's number in
    E.164 when it is one, `repeat_caller` their recent tickets."""
    extra = {"mode": "call", "queue": call.queue, "dialed": call.dialed}
    if call.caller_number and phone is None:
        extra["caller_id"] = call.caller_number  # kept as Asterisk gave it: anonymous, foreign, …
    return Ticket(
        id=PENDING_ID, channel="phone", received_at=now, updated_at=now, due_at=due_at(now, Urgency.normal),
        requester=Requester(phone=phone, name=call.caller_name or None),
        content=PENDING_CONTENT, source=Source(channel_id=call.linkedid, extra={k: v for k, v in extra.items() if v}),
        links=Links(repeat_caller=repeat_caller),
    )
