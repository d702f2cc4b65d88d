"""The transfer envelope (`hotline.partner-transfer/v1`), its receipt and status callbacks, and
the two translations: our ticket -> envelope (through the consent gate and the partner's field
allow-list) and a partner's envelope -> our ticket (channel `partner`)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from channels.partner.directory import Partner
from gateway.ticket import (
    Attachment,
    HistoryEvent,
    Kind,
    Location,
    Message,
    Requester,
    Ticket,
    TranscriptSegment,
    Urgency,
)

ENVELOPE_SCHEMA: Final = "hotline.partner-transfer/v1"
TRANSFER_ID = r"^[A-Za-z0-9._:-]{8,100}$"
E164 = r"^\+[1-9]\d{6,14}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EnvelopeRequester(Strict):
    name: str | None = Field(None, max_length=60)
    phone: str | None = Field(None, pattern=E164)
    callback_phone: str | None = Field(None, pattern=E164)
    confidential: bool = Field(False, description="诉求人要求保密: the receiver must keep the requester's identity confidential too")
    consent_share_partner: bool = False


class EnvelopeAttachment(Strict):
    kind: Literal["image", "video", "audio", "document"]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0, le=50 * 1024 * 1024)
    mime: str = Field(max_length=100)
    filename: str | None = Field(None, max_length=200)
    url: str = Field(max_length=1000, description="signed link on the sender's partner API, valid until expires_at")
    expires_at: datetime


class EnvelopeAgent(Strict):
    username: str = Field(max_length=64)
    display_name: str | None = Field(None, max_length=60)


class EnvelopeCall(Strict):
    live: bool = Field(description="the caller is being put through to the receiver's route right now")
    route: str | None = Field(None, max_length=40)


class TransferEnvelope(Strict):
    schema_: Literal["hotline.partner-transfer/v1"] = Field(ENVELOPE_SCHEMA, alias="schema")
    transfer_id: str = Field(pattern=TRANSFER_ID, description="unique per sender; a repeat returns the first receipt")
    origin: str = Field(max_length=32, description="sender's directory id")
    origin_ticket_id: str = Field(max_length=40)
    sent_at: datetime
    reason: str = Field(min_length=1, max_length=500)
    agent: EnvelopeAgent
    kind: Kind | None = None
    urgency: Urgency = Urgency.normal
    summary: str = Field(min_length=1, max_length=10_000)
    received_at: datetime = Field(description="when the citizen's request first reached the sender")
    requester: EnvelopeRequester = Field(default_factory=EnvelopeRequester)
    withheld: list[str] = Field(default_factory=list, description="requester or case fields the sender did not pass on (consent, allow-list)")
    location: Location | None = None
    messages: list[Message] = Field(default_factory=list, max_length=500)
    transcript: list[TranscriptSegment] = Field(default_factory=list, max_length=5000)
    attachments: list[EnvelopeAttachment] = Field(default_factory=list, max_length=10)
    call: EnvelopeCall | None = None

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True, use_enum_values=True)


class TransferReceipt(Strict):
    transfer_id: str
    ticket_id: str = Field(description="the receiver's ticket id")
    status: Literal["received"] = "received"
    received_at: datetime
    duplicate: bool = False


class StatusUpdate(Strict):
    status: Literal["accepted", "in_progress", "resolved"]
    at: datetime
    ticket_id: str = Field(max_length=40, description="the receiver's ticket id")
    result: str | None = Field(None, max_length=2000, description="办理结果, required with resolved")
    agent: str | None = Field(None, max_length=64)


STATUS_LABELS = {"received": "对方已接收", "accepted": "对方已受理", "in_progress": "对方办理中", "resolved": "对方已办结"}

# A link to one of our attachments for the receiver: (url, expires_at).
LinkMaker = Callable[[Attachment], tuple[str, datetime]]


def withheld_requester_fields(requester: Requester, partner: Partner) -> list[str]:
    """The requester's fields `partner` will not get: all without the citizen's consent, and
    those off the partner's allow-list with it."""
    present = [f"requester.{name}" for name in ("name", "phone", "callback_phone") if getattr(requester, name)]
    if not requester.consent_share_partner:
        return present
    return [f for f in present if f not in partner.fields]


def build_envelope(ticket: Ticket, *, origin: str, partner: Partner, transfer_id: str, request: HistoryEvent,
                   sent_at: datetime, link: LinkMaker) -> TransferEnvelope:
    """The envelope for `partner`: the requester's personal fields only with the citizen's
    consent (recorded on the ticket) and only those on the partner's allow-list."""
    allowed = set(partner.fields)
    requester = EnvelopeRequester(confidential=ticket.requester.confidential, consent_share_partner=ticket.requester.consent_share_partner)
    withheld = withheld_requester_fields(ticket.requester, partner)
    for name in ("name", "phone", "callback_phone"):
        if f"requester.{name}" not in withheld:
            setattr(requester, name, getattr(ticket.requester, name))
    withheld += [name for name in ("location", "messages", "transcript", "attachments")
                 if name not in allowed and getattr(ticket, name)]
    attachments = []
    if "attachments" in allowed:
        for item in ticket.attachments:
            url, expires = link(item)
            attachments.append(EnvelopeAttachment(kind=item.kind, sha256=item.sha256, size=item.size, mime=item.mime,
                                                  filename=item.filename, url=url, expires_at=expires))
    detail = request.detail
    return TransferEnvelope(
        transfer_id=transfer_id, origin=origin, origin_ticket_id=ticket.id, sent_at=sent_at,
        reason=str(detail.get("reason") or "属地管辖，转请贵方办理"),
        agent=EnvelopeAgent(username=request.actor.removeprefix("agent:"), display_name=detail.get("agent_name")),
        kind=ticket.kind, urgency=ticket.urgency, summary=ticket.content, received_at=ticket.received_at,
        requester=requester, withheld=withheld,
        location=ticket.location if "location" in allowed else None,
        messages=[m.model_copy(update={"author": None}) for m in ticket.messages] if "messages" in allowed else [],
        transcript=list(ticket.transcript) if "transcript" in allowed else [],
        attachments=attachments,
        call=EnvelopeCall(live=True, route=detail.get("route")) if detail.get("live_call") else None,
    )
