"""WeChat messages → Ticket. Translation only: the signature, the XML and the account were checked
at the edge (routes.py, envelope.py); the dialogue (dialogue.py) decides which ticket a message opens."""
from __future__ import annotations

from datetime import datetime

from gateway.deadlines import due_at
from gateway.ticket import PENDING_ID, Channel, Message, Requester, Source, Ticket, Urgency
from triage.assessment import PLACEHOLDER as COLLECTING_CONTENT  # triage knows a draft by it


def consultation_ticket(account: str, openid: str, msg_key: str, text: str, now: datetime, message: Message) -> Ticket:
    """A question the bot answers or forwards; the WeChat message key makes a retry find it again."""
    return Ticket(
        id=PENDING_ID, channel=Channel.wechat, received_at=now, updated_at=now, due_at=due_at(now, Urgency.normal),
        content=text, messages=[message], requester=Requester(wechat_openid=openid),
        source=Source(channel_id=f"{account}:{msg_key}", extra={"mode": "chat", "account": account}),
    )


def report_ticket(account: str, openid: str, draft_started: str, now: datetime) -> Ticket:
    """A 我要反映 request, opened with the first thing the citizen sends for it; the router leaves
    it alone until it is filed."""
    return Ticket(
        id=PENDING_ID, channel=Channel.wechat, received_at=now, updated_at=now, due_at=due_at(now, Urgency.normal),
        content=COLLECTING_CONTENT, requester=Requester(wechat_openid=openid),
        # The draft's start identifies the request: a retried message opens it once.
        source=Source(channel_id=f"{account}:report:{openid}:{draft_started}", extra={"mode": "collecting", "account": account}),
    )
