"""One conversation turn, for every channel that converses (web chat, WeChat).

The conversation is one ticket (mode chat) that records every answer with its entry and
version. A turn settles the request when the bot answered it or sent the citizen to 110/119/
120/122 or a legal channel; the next message is then a new request with its own ticket. A
forward is settled once the citizen left a phone number: the chat ticket, with the bot's kind,
place, topic and handling unit filled in, goes to the case system and the citizen gets its id.
Channels only translate their wire formats: they pass the text and how to build their ticket.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gateway import clock
from gateway.deadlines import due_at
from gateway.intake import Intake
from gateway.outbox import Outbox
from gateway.phone_numbers import phone_in_text
from gateway.ticket import Answered, Diverted, HistoryEvent, Message, Status, Ticket
from gateway.tickets import Tickets
from knowledge_base.live import LiveKnowledge
from triage.assessment import Assessment, filed_reply
from triage.conversations import Conversations
from triage.decision import Conversation, Decision
from triage.engines import BotEngine, Outcome
from triage.fill import fill_in
from triage.router import send_on

SETTLED = frozenset({"answer", "emergency", "legal_channel"})  # the request is dealt with
_NOT_DESCRIPTION = re.compile(r"^(第?[1-5一二三四五][个条项]?|转人工|人工|人工服务|你好|您好|谢谢)$")
_DECLINED = re.compile(r"^(不用了?|不留了?|不方便|算了|不需要|不要了?|没有|没了)[。！!,，]*$")
ASK_PHONE_AGAIN = "这个号码好像不完整，请输入11位手机号或带区号的固定电话；不方便留电话请回复“不用了”。"
DECLINED_REPLY = "好的。您的问题已记录在会话中，如需登记诉求以便跟踪办理，可随时留下电话，或拨打 12345。"

NewTicket = Callable[[datetime, Message, int], Ticket]  # (now, first message, request number in the conversation)


@dataclass(frozen=True)
class Turn:
    reply: str
    decision: Decision
    outcome: Outcome | None  # None when the turn only completed a forward
    ticket_id: str  # the ticket this turn was recorded on
    filed: bool = False  # the chat ticket went to the case system with this turn
    description: str = ""  # what the citizen said about this request so far (a form's pre-fill)
    opened: bool = False  # this turn opened the ticket


class Turns:
    def __init__(self, intake: Intake, tickets: Tickets, knowledge: LiveKnowledge, conversations: Conversations,
                 engine: BotEngine, outbox: Outbox) -> None:
        self.intake = intake
        self.tickets = tickets
        self.knowledge = knowledge
        self.conversations = conversations
        self.engine = engine
        self.outbox = outbox

    async def take(self, channel: str, user: str, text: str, new_ticket: NewTicket, source: str = "typed") -> Turn:
        now = clock.now()
        conversation, ticket_id = await self.conversations.load(channel, user)
        message = Message(who="citizen", at=now, text=text, source=source)
        if conversation.awaiting == "phone" and ticket_id is not None:
            if (phone := phone_in_text(text)) is not None:
                return await self._file(channel, user, conversation, ticket_id, message, phone, now)
            if _DECLINED.match(text.strip()):
                await self._record(ticket_id, message, None, now)
                await self.conversations.save(channel, user, conversation.next_request(), None)
                return Turn(DECLINED_REPLY, Decision("clarify", DECLINED_REPLY, ["declined to leave a phone number"]), None, ticket_id)
            if len(text.strip()) <= 20 and re.search(r"\d{5,}", text):
                await self._record(ticket_id, message, None, now)
                return Turn(ASK_PHONE_AGAIN, Decision("clarify", ASK_PHONE_AGAIN, ["not a phone number"]), None, ticket_id)
            conversation.awaiting = None  # they moved on: a new turn

        outcome = await self.engine.decide(text, conversation, channel, f"{channel}:{user}", self.knowledge.snapshot, now)
        decision = outcome.decision
        detail = {**decision.as_dict(), **outcome.record()}
        opened = ticket_id is None
        if ticket_id is None:
            conversation.requests += 1
            ticket = new_ticket(now, message, conversation.requests)
            apply_decision(ticket, decision, now)
            ticket.history = []
            result = await self.intake(ticket, actor="citizen")
            assert result.ticket_id is not None
            ticket_id = result.ticket_id
            await self.tickets.append_event(ticket_id, HistoryEvent(at=now, actor="bot", event="bot_decided", detail=detail))
        else:
            await self._record(ticket_id, message, decision, now, detail)
        if decision.type == "answer" and decision.entry_id and decision.version:
            await self.knowledge.kb.record_answer(decision.entry_id, decision.version, ticket_id)

        conversation.turns.append({"at": now.isoformat(), "text": text, "decision": decision.type})
        conversation.pending_options = [o["entry_id"] for o in decision.options]
        if decision.type == "forward" and decision.phone:
            filed = await self._file(channel, user, conversation, ticket_id, None, decision.phone, now, decision, outcome)
            return replace(filed, opened=opened)
        if decision.type == "forward":
            conversation.awaiting, conversation.forward = "phone", decision.as_dict()
        said = "\n".join(t["text"] for t in conversation.turns if not _NOT_DESCRIPTION.match(t["text"].strip()))
        turn = Turn(decision.reply, decision, outcome, ticket_id, description=said[-2000:], opened=opened)
        if decision.type in SETTLED and not decision.crisis:
            conversation, ticket_id = conversation.next_request(), None  # the next question is a new request
        await self.conversations.save(channel, user, conversation, ticket_id)
        return turn

    async def _record(self, ticket_id: str, message: Message, decision: Decision | None, now: datetime,
                      detail: dict[str, Any] | None = None) -> None:
        def change(ticket: Ticket) -> None:
            ticket.messages.append(message)
            if decision is not None:
                apply_decision(ticket, decision, now)

        event = HistoryEvent(at=now, actor="bot", event="bot_decided", detail=detail) if detail else \
            HistoryEvent(at=now, actor="citizen", event="message")
        await self.tickets.update(ticket_id, change, event)

    async def _file(self, channel: str, user: str, conversation: Conversation, ticket_id: str, message: Message | None,
                    phone: str, now: datetime, decision: Decision | None = None, outcome: Outcome | None = None) -> Turn:
        """The forward completed: the chat ticket, with the citizen's whole description and phone,
        goes to the case system once (a retried message finds it already routed)."""
        def complete(ticket: Ticket) -> dict[str, Any]:
            if message is not None:
                ticket.messages.append(message)
            ticket.requester.phone = ticket.requester.phone or phone
            said = [m.text for m in ticket.messages if m.who == "citizen" and phone_in_text(m.text) != phone]
            ticket.content = "\n".join(said)[-4000:] or ticket.content
            return {"phone_left": True}

        await self.tickets.update(ticket_id, complete, HistoryEvent(at=now, actor="citizen", event="contact_left"))
        forward = decision or Decision.from_dict(conversation.forward or {"type": "forward", "reply": "", "reasons": ["chat forward"]})
        record = {k: v for k, v in forward.as_dict().items() if k != "reply"}
        await send_on(self.outbox, self.tickets, ticket_id, Assessment(forward, record), "市民在线咨询转为诉求，转派承办单位办理")
        await self.conversations.save(channel, user, conversation.next_request(), None)
        reply = filed_reply(ticket_id, forward, "办理进展可凭工单号在“进度查询”中查看。")
        return Turn(reply, forward, outcome, ticket_id, filed=True)


def apply_decision(ticket: Ticket, decision: Decision, now: datetime) -> None:
    """What the bot's decision does to a conversation's ticket."""
    ticket.messages.append(Message(who="bot", at=now, text=decision.reply, source="typed"))
    if decision.type == "answer":
        ticket.kind = "consultation"  # type: ignore[assignment]  # the value, as use_enum_values stores it
        ticket.status = Status.answered
        ticket.disposition = Answered(at=now, kb_entry_id=decision.entry_id or "", kb_version=decision.version or 0)
    elif decision.type == "emergency" and decision.crisis:
        # A person takes over at once: the ticket stays open at the top of every desk, the
        # conversation goes on on it (a crisis is not settled by giving numbers).
        ticket.urgency = "emergency"  # type: ignore[assignment]  # the value, as use_enum_values stores it
        ticket.due_at = due_at(ticket.received_at, "emergency")
    elif decision.type == "emergency":
        ticket.urgency = "emergency"  # type: ignore[assignment]  # the value, as use_enum_values stores it
        ticket.status = Status.diverted
        ticket.disposition = Diverted(at=now, to=decision.line or "", reason="紧急警情，已告知拨打" + (decision.line or ""))
    elif decision.type == "legal_channel":
        ticket.status = Status.diverted
        ticket.disposition = Diverted(at=now, to="legal", reason=decision.reply)
    elif decision.type == "forward":
        fill_in(ticket, decision, now)  # the bot's kind, urgency, place, topic and unit land on the chat ticket
