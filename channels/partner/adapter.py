"""A partner's transfer envelope → our Ticket. Translation only: the envelope was validated and
its signature checked at the edge (routes.py)."""
from __future__ import annotations

from datetime import datetime

from channels.partner.directory import Partner
from channels.partner.envelope import TransferEnvelope
from gateway.deadlines import due_at
from gateway.ticket import PENDING_ID, Attachment, Message, Requester, Source, Ticket


def to_ticket(envelope: TransferEnvelope, origin: Partner, now: datetime, attachments: list[Attachment], notes: list[str]) -> Ticket:
    """Our ticket for a partner's transfer: deadlines by our rules from when it reached us."""
    req = envelope.requester
    intro = f"{origin.name}转来（对方工单 {envelope.origin_ticket_id}）。转办原因：{envelope.reason}"
    if envelope.withheld:
        intro += "。对方未提供：" + "、".join(_FIELD_LABELS.get(f, f) for f in envelope.withheld)
    messages = [Message(who="partner", at=now, text=intro, source="note"), *envelope.messages,
                *(Message(who="system", at=now, text=note, source="note") for note in notes)]
    return Ticket(
        id=PENDING_ID, channel="partner", received_at=now, updated_at=now, kind=envelope.kind, urgency=envelope.urgency,
        due_at=due_at(now, envelope.urgency), content=envelope.summary,
        requester=Requester(name=req.name, phone=req.phone, callback_phone=req.callback_phone, confidential=req.confidential,
                            consent_share_partner=req.consent_share_partner),
        messages=messages, transcript=list(envelope.transcript), attachments=attachments, location=envelope.location,
        source=Source(channel_id=f"{origin.id}:{envelope.transfer_id}", extra={
            "mode": "partner", "origin": origin.id, "transfer_id": envelope.transfer_id,
            "origin_ticket_id": envelope.origin_ticket_id, "live_call": "1" if envelope.call and envelope.call.live else "",
        }),
    )


_FIELD_LABELS = {"requester.name": "姓名", "requester.phone": "电话", "requester.callback_phone": "回拨电话", "location": "地点",
                 "messages": "沟通记录", "transcript": "通话转写", "attachments": "附件"}
