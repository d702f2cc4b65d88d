"""Consultation chat on the citizen portal: each message goes to the bot; the conversation is
one ticket (channel web, mode chat) that records every answer with its entry and version.
When the bot forwards, the reply carries a pre-filled form for the citizen to confirm."""
from __future__ import annotations

import re

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.decision import Decision
from gateway import clock
from gateway.deadlines import due_at
from gateway.errors import ApiError
from gateway.json_io import json_response, read_model
from gateway.client_address import client_address
from gateway.rate_limits import RateLimit
from gateway.ticket import (PENDING_ID, Answered, Channel, Diverted, HistoryEvent, Message, Source, Status, Ticket,
                            Urgency)

_SESSION = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
TERMINAL = {"answer", "emergency", "legal_channel"}
_NOT_DESCRIPTION = re.compile(r"^(第?[1-5一二三四五][个条项]?|转人工|人工|人工服务|你好|您好|谢谢)$")


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str = Field(pattern=_SESSION.pattern, description="random id the page keeps for the conversation")
    text: str = Field(min_length=1, max_length=2000)


async def chat(request: web.Request) -> web.Response:
    app = request.app
    body = await read_model(request, ChatIn, _field_message)
    settings = app["settings"]
    allowed, retry_after = await app["rate_limiter"].hit(RateLimit(f"chat:{client_address(request)}", settings.rate_limit_ip_per_hour * 10, 3600))
    if not allowed:
        raise ApiError(429, "rate_limited", "提问过于频繁，请稍后再试；紧急情况请拨打 110、119、120、122", headers={"Retry-After": str(retry_after)})

    now = clock.now()
    conversations = app["conversations"]
    conversation, ticket_id = await conversations.load("web", body.session_id)
    outcome = await app["bot_engine"].decide(body.text, conversation, "web", f"web:{body.session_id}", app["knowledge"].snapshot, now)
    decision = outcome.decision

    if ticket_id is None:
        ticket_id = (await app["intake"](_new_ticket(body, now), actor="citizen")).ticket_id
    else:
        await app["tickets"].update(ticket_id, lambda t: _add_citizen_message(t, body.text, now),
                                    HistoryEvent(at=now, actor="citizen", event="message"))
    await app["tickets"].update(ticket_id, lambda t: apply_decision(t, decision, now),
                                HistoryEvent(at=now, actor="bot", event="bot_decided", detail={**decision.as_dict(), **outcome.record()}))
    if decision.type == "answer" and decision.entry_id and decision.version:
        await app["knowledge"].kb.record_answer(decision.entry_id, decision.version, ticket_id)

    conversation.turns.append({"at": now.isoformat(), "text": body.text, "decision": decision.type})
    conversation.pending_options = [o["entry_id"] for o in decision.options]
    reply = _reply(decision, ticket_id, conversation)
    if decision.type in TERMINAL:
        # That request is settled: the next question is a new request with its own ticket.
        conversation.turns, ticket_id = [], None
    await conversations.save("web", body.session_id, conversation, ticket_id)
    return json_response(reply)


def _field_message(error: dict) -> str:
    return "请输入1至2000字的问题" if error["loc"] and error["loc"][0] == "text" else "会话编号无效，请刷新页面"


def _new_ticket(body: ChatIn, now) -> Ticket:  # type: ignore[no-untyped-def]
    return Ticket(
        id=PENDING_ID, channel=Channel.web, received_at=now, updated_at=now, due_at=due_at(now, Urgency.normal),
        content=body.text, messages=[Message(who="citizen", at=now, text=body.text, source="typed")],
        source=Source(channel_id=f"chat:{body.session_id}", extra={"mode": "chat"}),
    )


def _add_citizen_message(ticket: Ticket, text: str, now) -> None:  # type: ignore[no-untyped-def]
    ticket.messages.append(Message(who="citizen", at=now, text=text, source="typed"))


def apply_decision(ticket: Ticket, decision: Decision, now) -> None:  # type: ignore[no-untyped-def]
    ticket.messages.append(Message(who="bot", at=now, text=decision.reply, source="typed"))
    if decision.type == "answer":
        ticket.kind = "consultation"
        ticket.status = Status.answered
        ticket.disposition = Answered(at=now, kb_entry_id=decision.entry_id or "", kb_version=decision.version or 0)
    elif decision.type == "emergency":
        ticket.urgency = Urgency.emergency
        ticket.status = Status.diverted
        ticket.disposition = Diverted(at=now, to=decision.line or "", reason="紧急警情，已告知拨打" + (decision.line or ""))
    elif decision.type == "legal_channel":
        ticket.status = Status.diverted
        ticket.disposition = Diverted(at=now, to="legal", reason=decision.reply)
    return None


def _reply(decision: Decision, ticket_id: str, conversation) -> dict:  # type: ignore[no-untyped-def]
    out: dict = {"reply": decision.reply, "decision": decision.type, "ticket_id": ticket_id}
    if decision.type == "answer":
        out["entry"] = {"id": decision.entry_id, "version": decision.version}
    if decision.options:
        out["options"] = decision.options
    if decision.type == "emergency":
        out["line"] = decision.line
    if decision.type in ("forward", "handoff"):
        citizen_text = "\n".join(t["text"] for t in conversation.turns if not _NOT_DESCRIPTION.match(t["text"].strip()))
        out["prefill"] = {
            "kind": decision.kind if decision.kind in ("help", "complaint", "report", "suggestion", "consultation") else "unsure",
            "description": citizen_text[-2000:],
            "district": (decision.location or {}).get("district"),
            "address": (decision.location or {}).get("street"),
            "phone": decision.phone,
            "related_ticket": ticket_id,
        }
    return out


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/chat", chat, name="chat")
