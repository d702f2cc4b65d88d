"""Video session → Ticket, chat lines → messages, recording → attachment. Translation only."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.deadlines import due_at
from gateway.ticket import PENDING_ID, Attachment, Channel, Message, Requester, Source, Ticket, Urgency

PENDING_CONTENT = "手语视频服务（等待坐席记录诉求内容）"
RECORDING_MIME = "video/webm"


def to_ticket(session_id: str, at: datetime, phone: str | None) -> Ticket:
    # mode "call": like a phone call, the agent on the line decides what happens to the request,
    # so the router does not forward it on its own.
    return Ticket(
        id=PENDING_ID,
        channel=Channel.video,
        received_at=at,
        updated_at=at,
        requester=Requester(phone=phone),
        urgency=Urgency.normal,
        due_at=due_at(at, Urgency.normal),
        content=PENDING_CONTENT,
        source=Source(channel_id=session_id, extra={"mode": "call", "video_session": session_id}),
    )


def chat_line(who: str, text: str, at: datetime, author: str | None = None) -> dict[str, Any]:
    """One chat line as stored in the session and pushed to both pages."""
    return {"who": who, "text": text, "at": at.isoformat(), "author": author}


def to_message(line: dict[str, Any]) -> Message:
    return Message(who=line["who"], at=datetime.fromisoformat(line["at"]), text=line["text"], source="typed", author=line.get("author"))


def transcript_text(session_id: str, lines: list[dict[str, Any]]) -> str:
    who = {"citizen": "市民", "agent": "坐席"}
    body = "\n".join(f"[{line['at']}] {who.get(line['who'], line['who'])}：{line['text']}" for line in lines)
    return f"手语视频服务文字记录（会话 {session_id}）\n{body}\n"


def attachment(kind: str, sha256: str, size: int, mime: str, filename: str) -> Attachment:
    return Attachment(kind=kind, sha256=sha256, size=size, mime=mime, filename=filename, blob=f"blob:sha256:{sha256}")
