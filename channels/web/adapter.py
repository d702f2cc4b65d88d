"""Web portal and web chat → Ticket. Translation only: validation happened at the edge, rules live elsewhere."""
from __future__ import annotations

from datetime import datetime

from channels.web.forms import CitizenRequestIn
from gateway import clock
from gateway.deadlines import due_at
from gateway.geography import district_code
from gateway.ticket import PENDING_ID, Attachment, Channel, Links, Location, Message, Requester, Source, Ticket, Urgency


def to_ticket(form: CitizenRequestIn, submission_key: str, attachments: list[Attachment]) -> Ticket:
    now = clock.now()
    location = None
    if form.district or form.address:
        # The portal has one free-text address field; the street (街道/乡镇) is left for an
        # agent or a later parser to fill, not guessed here.
        location = Location(
            text=form.address,
            district=form.district,
            district_code=district_code(form.district) if form.district else None,
        )
    return Ticket(
        id=PENDING_ID,
        channel=Channel.web,
        received_at=now,
        updated_at=now,
        requester=Requester(phone=form.phone, name=form.name, confidential=form.confidential),
        kind=None if form.kind == "unsure" else form.kind,
        urgency=Urgency.normal,
        due_at=due_at(now, Urgency.normal),
        content=form.description,
        messages=[Message(who="citizen", at=now, text=form.description, source="form")],
        attachments=attachments,
        location=location,
        source=Source(channel_id=submission_key),
        links=Links(related=[form.related_ticket] if form.related_ticket else []),
    )


def chat_ticket(session_id: str, text: str, now: datetime, message: Message, number: int) -> Ticket:
    # Each request of the session has its own ticket; a retried first message finds it again.
    return Ticket(
        id=PENDING_ID, channel=Channel.web, received_at=now, updated_at=now, due_at=due_at(now, Urgency.normal),
        content=text, messages=[message],
        source=Source(channel_id=f"chat:{session_id}:{number}", extra={"mode": "chat", "session": session_id}),
    )
