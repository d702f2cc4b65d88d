"""The decision engine: a plain function of (text, conversation, channel, knowledge snapshot,
time). No I/O, so it is fast and testable; the result carries its reasons and is recorded on
the ticket.

Order matters: emergencies are decided before anything else and never wait for a dialogue
(certain ones are diverted; unsure ones show the number and the request is still taken); then a
request for a person, legal channels, small talk, grievances (complaint, report, help,
suggestion) told rather than asked, knowledge-base answers only where the entry covers the
question (`triage.answers`), and forwards with the kind, topic, place and recommended unit
(`triage.classify`).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from gateway.deadlines import due_at
from gateway.phone_numbers import phone_in_text
from knowledge_base.snapshot import Hit, KnowledgeSnapshot, register_place_names
from knowledge_base.text import add_user_words, normalise_head
from triage import answers, lexicon
from triage.classify import Classification, classify, partner_names
from triage.dispatch import Catalogue
from triage.emergency import EmergencyCall, assess_emergency
from triage.emergency_model import likely_emergency
from triage.legal import legal_channel
from triage.places import place_names

DecisionType = Literal["answer", "clarify", "emergency", "legal_channel", "handoff", "forward"]

MAX_TEXT = 2000  # longer texts are judged on their beginning; the ticket keeps all of it
# Retrieval thresholds, calibrated on tests/data/bot_eval.yaml (see `hotline bot eval`).
MIN_COVERAGE = 0.3  # share of the question's information (IDF weight) the best entry must contain
MIN_CONTENT_WORDS = 2  # fewer content words than this is too vague to answer (unless rare and specific)
MIN_COVERAGE_STATEMENT = 0.45  # a statement rather than a question must match more closely
TIE_RATIO = 0.97
CLEAR_LEAD = 1.25  # a question whose best entry leads the next by this much is answered on less coverage
MIN_COVERAGE_WITH_LEAD = 0.2
MIN_COVERAGE_TO_OFFER = 0.3  # an entry not sure to answer is offered as a choice only when this close
GRIEVANCE_OVER_QUESTION = 0.6  # a grievance this likely is forwarded even when it contains a question
MIN_GRIEVANCE_CHARS = 6  # shorter ("居住证") is a topic named, unless the citizen says what they are doing
SHORT_QUESTION_CHARS = 40  # a question this short tries the knowledge base before a grievance is forwarded
STRONG_GRIEVANCE = 0.8  # a grievance this likely is forwarded even when an entry could answer it
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")

_HANDOFF = lexicon.compile_all(lexicon.HANDOFF_PATTERNS)
_CHITCHAT = lexicon.compile_all(lexicon.CHITCHAT_PATTERNS)
_OUT_OF_SCOPE = lexicon.compile_all(lexicon.OUT_OF_SCOPE_PATTERNS)
_CONSULTATION = lexicon.compile_all(lexicon.CONSULTATION_CUES)
_QUESTION = lexicon.compile_all(lexicon.QUESTION_CUES)
_UTILITIES = lexicon.compile_all(lexicon.UTILITIES_CUES)
HANDOFF_REPLY_WEB = "网上咨询暂时无法直接接通人工。请填写诉求表单，工作人员会按时限与您联系；也可以拨打 12345 热线。"
add_user_words(place_names())  # jieba keeps 望京街道, 回龙观 … whole
register_place_names(place_names())

_CHOICE = re.compile(r"^(?:第)?([1-5一二三四五])(?:个|条|项)?$")
_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}


@dataclass
class Conversation:
    """What the engine remembers between turns (stored by `triage.conversations`)."""

    turns: list[dict[str, Any]] = field(default_factory=list)
    pending_options: list[str] = field(default_factory=list)  # entry ids offered by a clarify
    awaiting: str | None = None  # "phone": a forward waits for the citizen's number
    forward: dict[str, Any] | None = None  # that forward's decision (Decision.as_dict)
    requests: int = 0  # requests this conversation has opened so far (numbers their tickets)

    def next_request(self) -> "Conversation":
        """The state for the conversation's next request (the count carries over)."""
        return Conversation(requests=self.requests)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Conversation":
        return cls(**data) if data else cls()


@dataclass
class Decision:
    type: DecisionType
    reply: str
    reasons: list[str]
    entry_id: str | None = None
    version: int | None = None
    confidence: float | None = None
    line: str | None = None
    options: list[dict[str, str]] = field(default_factory=list)
    kind: str | None = None
    urgency: str | None = None
    due_at: datetime | None = None
    location: dict[str, str | None] | None = None
    phone: str | None = None
    crisis: bool = False  # suicide or self-harm signal: a person takes over at once
    dispatch: dict[str, Any] | None = None  # topic and recommended handling unit (the ticket's `dispatch` block)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Decision":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("due_at"), str):
            known["due_at"] = datetime.fromisoformat(known["due_at"])
        return cls(**known)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["due_at"] = self.due_at.isoformat() if self.due_at else None
        return {k: v for k, v in data.items() if v not in (None, [], {}, False)}


def decide(text: str, conversation: Conversation, channel: str, kb: KnowledgeSnapshot, now: datetime,
           catalogue: Catalogue | None = None) -> Decision:
    clean = normalise_head(text, MAX_TEXT)
    if not clean:
        return Decision("clarify", "请问您想咨询或反映什么问题？可以直接用一句话描述。", ["empty text"])

    call = emergency_call(clean)
    if call is not None and (call.certainty == "certain" or call.crisis):
        return _emergency(call, now, channel)

    if match := _HANDOFF.search(clean):
        reply = (HANDOFF_REPLY_WEB if channel == "web" else "正在为您转接人工服务，请稍候。您也可以先简单描述问题，方便工作人员了解。")
        return Decision("handoff", reply, [f"asked for a person “{match.group(0)}”"])

    if call is not None:
        # Maybe an emergency: show the numbers, and still take the request with high urgency.
        return _forward(clean, now, [f"possible emergency: {call.reason}"], urgent=call)

    if (legal := legal_channel(clean)) is not None:
        return Decision("legal_channel", legal.reply, [f"legal-channel request ({legal.route}) “{legal.cue}”"])

    chosen = _chosen_option(clean, conversation, kb)
    if chosen is not None:
        return _answer(kb, chosen, 1.0, ["chose an offered option"])

    if _CHITCHAT.search(clean) and len(clean) <= 20:
        return Decision("clarify", "您好，我是北京12345智能助手。请问您想咨询什么政策，或者反映什么问题？", ["small talk"])
    if _OUT_OF_SCOPE.search(clean):
        return Decision("clarify", "这个问题超出了12345热线的服务范围。请问您有政务咨询、求助、投诉、举报或建议吗？", ["out of scope"])

    if not _specific_enough(clean, kb) and not _HAN_RUN.search(clean):
        return Decision("clarify", "能再具体说一下吗？比如您想办理什么事，或者遇到了什么问题、在哪里。", ["no words to go on"])

    classified = classify(clean, catalogue)
    question = bool(_QUESTION.search(clean))
    grievance = classified.kind != "consultation"
    hits = kb.search(clean, now, limit=3)
    answerable = _specific_enough(clean, kb) and answers.confident(hits)
    told = len(clean) >= MIN_GRIEVANCE_CHARS or classified.kind_reason == "self-labelled"  # not a bare topic word
    short_question = question and len(clean) <= SHORT_QUESTION_CHARS  # asked, not a letter ending in "为什么没人管？"
    if grievance and told and not answerable and not short_question and (not question or classified.kind_confidence >= GRIEVANCE_OVER_QUESTION):
        # A grievance told (a question inside a complaint, "为什么没人管？", is still a complaint).
        return _forward(clean, now, [f"{classified.kind} ({classified.kind_reason} {classified.kind_confidence:.2f})"], classified)
    if grievance and not question and classified.kind_confidence >= STRONG_GRIEVANCE:
        # Sure it is a grievance: a department takes it, even where an entry explains the rules.
        return _forward(clean, now, [f"{classified.kind} ({classified.kind_reason} {classified.kind_confidence:.2f})"], classified)

    needed = MIN_COVERAGE if question or len(clean) < 12 else MIN_COVERAGE_STATEMENT
    if question and len(hits) > 1 and hits[0].score >= CLEAR_LEAD * hits[1].score:
        needed = min(needed, MIN_COVERAGE_WITH_LEAD)
    if hits and hits[0].coverage >= needed:
        top = hits[0]
        tie = len(hits) > 1 and hits[1].score >= TIE_RATIO * top.score and hits[1].coverage >= needed
        if tie or (not _specific_enough(clean, kb) and len(hits) > 1):
            # Two entries fit equally well, or a bare topic word ("居住证"): offer the best two.
            return _clarify_between(kb, hits[:2], [f"tie or bare topic: bm25 {top.score:.2f} / {hits[1].score:.2f}"])
        if _specific_enough(clean, kb) and answers.confident(hits):
            return _answer(kb, top.entry_id, round(top.coverage, 3), [f"bm25 {top.score:.2f}, coverage {top.coverage:.2f}"])
        if _specific_enough(clean, kb) and question and top.coverage >= MIN_COVERAGE_TO_OFFER:
            # Close, but maybe another subject: offer the best entries, never answer another question.
            return _clarify_between(kb, hits[:2], [f"not sure the entry answers it: bm25 {top.score:.2f}, coverage {top.coverage:.2f}"])

    if grievance:
        return _forward(clean, now, [f"{classified.kind} ({classified.kind_reason})", "no knowledge-base answer"], classified)
    if not question and len(clean) >= 12 and _specific_enough(clean, kb) and not _CONSULTATION.search(clean):
        return _forward(clean, now, ["a problem told at length, no knowledge-base answer"], classified, kind="help")
    if not _specific_enough(clean, kb) or not _CONSULTATION.search(clean):
        return Decision("clarify", "能再具体说一下吗？比如您想办理什么事，或者遇到了什么问题、在哪里。", ["too vague to decide"])
    return _forward(clean, now, ["no knowledge-base answer"], classified, kind="consultation")


def emergency_call(clean: str) -> EmergencyCall | None:
    """The rules' call, else the model's (only ever unsure: the numbers are shown and the request
    is still taken)."""
    if (call := assess_emergency(clean)) is not None:
        return call
    if (guess := likely_emergency(clean)) is not None:
        return EmergencyCall(guess.line, "unsure", False, "", f"the emergency model reads it as one ({guess.probability:.2f}) → {guess.line}")
    return None


def emergency_check(text: str, now: datetime, channel: str = "web") -> Decision | None:
    """The emergency decision (or, when unsure, an urgent forward that shows the numbers) that
    runs before any engine: with Rasa deciding, a statistical model that misses a fire must not
    be the last word."""
    clean = normalise_head(text, MAX_TEXT)
    call = emergency_call(clean)
    if call is None:
        return None
    if call.certainty == "certain" or call.crisis:
        return _emergency(call, now, channel)
    return _forward(clean, now, [f"possible emergency: {call.reason}"], urgent=call)


def with_dispatch(decision: Decision, text: str, any_type: bool = False,
                  stated: tuple[str, str | None] | None = None) -> Decision:
    """A decision completed with what triage knows: topic, unit, place, partner, kind (what it
    already says is kept). Forwards only, unless `any_type`: a filed request is handled whatever
    the citizen was told (an emergency told to call 119 is still forwarded, urgently).
    `stated` = (district, street) a person placed it at: that place's units, and no partner."""
    complete = decision.dispatch is not None and decision.kind
    if (decision.type != "forward" and not any_type) or (complete and stated is None):
        return decision
    clean = normalise_head(text, MAX_TEXT)
    if not clean:
        return decision
    classified = classify(clean)
    if stated is not None:
        district, street = stated
        found = decision.location or classified.location() or {}
        street = street or (found.get("street") if found.get("district") == district else None)
        decision.dispatch = classified.at(district, street).dispatch()
    decision.dispatch = decision.dispatch or classified.dispatch()
    decision.kind = decision.kind or classified.kind
    decision.location = decision.location or classified.location()
    return decision


def _specific_enough(text: str, kb: KnowledgeSnapshot) -> bool:
    words = [t for t in kb.query_tokens(text) if not t.startswith("#")]
    if len(words) >= MIN_CONTENT_WORDS:
        return True
    return any(len(w) >= 2 and kb.idf.get(w, 0) >= kb.unseen_idf for w in words)  # one rare, specific term


def _chosen_option(text: str, conversation: Conversation, kb: KnowledgeSnapshot) -> str | None:
    if not conversation.pending_options:
        return None
    if match := _CHOICE.match(text):
        raw = match.group(1)
        index = (_CHINESE_DIGITS.get(raw) or int(raw)) - 1
        if 0 <= index < len(conversation.pending_options):
            entry_id = conversation.pending_options[index]
            return entry_id if entry_id in kb.entries else None
    return None


def _answer(kb: KnowledgeSnapshot, entry_id: str, confidence: float, reasons: list[str]) -> Decision:
    entry = kb.entries[entry_id]
    return Decision("answer", entry.answer, reasons, entry_id=entry_id, version=entry.version, confidence=confidence)


def _clarify_between(kb: KnowledgeSnapshot, hits: list[Hit], reasons: list[str]) -> Decision:
    options = [{"entry_id": h.entry_id, "title": kb.entries[h.entry_id].title} for h in hits]
    lines = "\n".join(f"{i}. {o['title']}" for i, o in enumerate(options, 1))
    return Decision("clarify", f"请问您想了解的是哪一项？请回复序号：\n{lines}\n如果都不是，请再具体描述一下您的问题，我们会转交相关部门为您解答。",
                    reasons, options=options)


def _emergency(call: EmergencyCall, now: datetime, channel: str = "web") -> Decision:
    what = lexicon.EMERGENCY_WHAT[call.line]
    person = lexicon.CRISIS_PERSON["web" if channel == "web" else "other"]
    reply = (lexicon.CRISIS_REPLY.format(person=person) if call.crisis else
             lexicon.EMERGENCY_REPLY.format(line=call.line, what=what))
    return Decision("emergency", reply, [call.reason], line=call.line, urgency="emergency",
                    due_at=due_at(now, "emergency"), crisis=call.crisis)


def _forward(text: str, now: datetime, reasons: list[str], classified: Classification | None = None,
             kind: str | None = None, urgent: EmergencyCall | None = None) -> Decision:
    classified = classified or classify(text)
    kind = kind or classified.kind
    urgency = "emergency" if urgent else "utilities" if _UTILITIES.search(text) else "normal"
    phone = phone_in_text(text)
    if urgent is not None:
        reply = lexicon.POSSIBLE_EMERGENCY_REPLY.format(line=urgent.line, what=lexicon.EMERGENCY_WHAT[urgent.line])
    elif classified.partner:
        reply = lexicon.PARTNER_REPLY.format(hotline=partner_names().get(classified.partner, classified.partner))
    elif kind != "consultation":
        reply = f"您反映的{lexicon.KIND_LABELS[kind]}事项需要转交相关部门办理。请留下联系电话和具体地点，我们将为您登记工单并按时限办理。"
    else:
        reply = "这个问题知识库暂时没有现成答复，我们将转交相关部门为您解答。请留下联系电话，方便工作人员联系您。"
    return Decision("forward", reply, reasons, kind=kind, urgency=urgency, due_at=due_at(now, urgency),
                    location=classified.location(), phone=phone, line=urgent.line if urgent else None,
                    dispatch=classified.dispatch())
