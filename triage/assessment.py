"""One assessment of a filed request, whichever channel filed it: a web form, a WeChat 我要反映
report, a ticket an agent filed from a call or a video session, a partner hotline's transfer in.

The bot decides on everything the citizen said (the conversation's stateless first turn), fills
what is still open on the ticket by the one fill policy, and the caller learns the decision (a
channel tells the citizen the emergency numbers; the router picks the hop)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.ticket import HistoryEvent, Ticket
from gateway.tickets import Tickets
from knowledge_base.snapshot import KnowledgeSnapshot
from knowledge_base.text import normalise_head
from triage import hotspots, lexicon
from triage.classify import beijing_fields, classify
from triage.decision import MAX_TEXT, Conversation, Decision, decide, with_dispatch
from triage.fill import fill_in
from triage.hotspots import HotspotRules
from triage.lexicon import EMERGENCY_WHAT
from triage.places import find_location

PLACEHOLDER = "（市民正在通过公众号登记诉求）"
MIN_KIND_CONFIDENCE = 0.6  # one utterance of a call says little: propose a kind only when fairly sure
MIN_KIND_CHARS = 6
_GREETING = re.compile(r"^(喂|你好|您好|哎|那个|就是)+[,，。 ]*")
_SMALL_TALK = lexicon.compile_all(lexicon.CHITCHAT_PATTERNS)  # "我想反映个问题" says no kind yet


@dataclass(frozen=True)
class Assessment:
    decision: Decision
    record: dict[str, Any]  # what goes on the ticket's history (the decision without its reply)


def request_text(ticket: Ticket) -> str:
    """Everything the citizen said: the description, their messages and the caller's side of a call."""
    parts = [ticket.content] if ticket.content and ticket.content != PLACEHOLDER else []
    if ticket.location is not None and ticket.location.text:
        parts.append(ticket.location.text)  # a form's address: where the place is read from
    parts += [m.text for m in ticket.messages if m.who == "citizen" and m.text not in parts]
    parts += [s.text for s in ticket.transcript if s.leg == "caller"]
    return "\n".join(parts)


def assess(ticket: Ticket, kb: KnowledgeSnapshot, now: datetime) -> Assessment:
    text = request_text(ticket)
    # A place a person stated (a form's district, an agent's correction) wins over the text's.
    place = ticket.location
    stated = (place.district, place.street) if place is not None and place.district else None
    decision = with_dispatch(decide(text, Conversation(), str(ticket.channel), kb, now), text, any_type=True, stated=stated)
    return Assessment(decision, {k: v for k, v in decision.as_dict().items() if k != "reply"})


async def assess_and_fill(tickets: Tickets, ticket_id: str, kb: KnowledgeSnapshot, now: datetime,
                          hotspot_rules: HotspotRules, by: str = "bot") -> Assessment:
    """Assess the stored ticket and write what the fill policy allows (one compare-and-set step,
    and none at all when nothing is open); then count it towards a 热点 of its place and topic."""
    ticket = await tickets.document(ticket_id)
    result = assess(ticket, kb, now)
    filled = ticket.model_copy(deep=True)
    if fill_in(filled, result.decision, now, by):
        filled = await tickets.update(ticket_id, lambda t: fill_in(t, result.decision, now, by),
                                      HistoryEvent(at=now, actor="bot", event="bot_assessed", detail=result.record))
    await hotspots.observe(tickets.redis, filled, hotspot_rules)
    return result


def place_said(text: str) -> dict[str, Any] | None:
    """District and street of the Beijing place `text` names as where the matter is, or None
    (a place elsewhere is for the assessment to judge)."""
    return beijing_fields(find_location(text))


def fields_said(text: str) -> dict[str, Any]:
    """Ticket fields one utterance settles (a call's screen pre-fill): the kind when triage is
    fairly sure, a Beijing place with the words it was read from."""
    clean = normalise_head(text, MAX_TEXT)
    found: dict[str, Any] = {}
    place = find_location(clean)
    if (fields := beijing_fields(place)) is not None and place is not None:
        found["location"] = (fields, place.matched)
    said = _GREETING.sub("", clean)
    if len(said) >= MIN_KIND_CHARS and not _SMALL_TALK.search(said):
        classified = classify(clean)
        if classified.kind_confidence >= MIN_KIND_CONFIDENCE:
            found["kind"] = classified.kind
    return found


def filed_reply(ticket_id: str, decision: Decision, follow_up: str) -> str:
    """What a citizen is told when their request is filed: the emergency number first when it
    may be one, then the ticket id and who will handle it."""
    urgent = (f"如果情况紧急、正在发生，请立即拨打 {decision.line}（{EMERGENCY_WHAT[decision.line]}）。"
              if decision.line in EMERGENCY_WHAT else "")
    where = "对应的外省市12345热线" if (decision.dispatch or {}).get("partner") else "相关部门"
    return f"{urgent}您的诉求已登记，工单号 {ticket_id}。我们将{'按紧急诉求' if urgent else ''}转交{where}办理，{follow_up}"
