"""The decision engine: a plain function of (text, conversation, channel, knowledge snapshot,
time). No I/O, so it is fast and testable; the result carries its reasons and is recorded on
the ticket.

Order matters: emergencies are decided before anything else and never wait for a dialogue;
then a request for a person, legal channels, small talk, complaints/reports/help/suggestions,
and only then knowledge-base answers for consultations.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from bot import lexicon
from bot.gazetteer import find_place, place_names
from gateway.deadlines import due_at
from gateway.phone_numbers import InvalidPhone, to_e164
from knowledge_base.snapshot import Hit, KnowledgeSnapshot, register_place_names
from knowledge_base.text import add_user_words, normalise

DecisionType = Literal["answer", "clarify", "emergency", "legal_channel", "handoff", "forward"]

MAX_TEXT = 2000  # longer texts are judged on their beginning; the ticket keeps all of it
# Retrieval thresholds, calibrated on tests/data/bot_eval.yaml (see `hotline bot eval`).
MIN_COVERAGE = 0.3  # share of the question's information (IDF weight) the best entry must contain
MIN_CONTENT_WORDS = 2  # fewer content words than this is too vague to answer (unless rare and specific)
MIN_COVERAGE_STATEMENT = 0.45  # a statement rather than a question must match more closely
TIE_RATIO = 0.97
CLEAR_LEAD = 1.25  # a question whose best entry leads the next by this much is answered on less coverage
MIN_COVERAGE_WITH_LEAD = 0.2

_EMERGENCY = {line: lexicon.compile_all(patterns) for line, (_, patterns) in lexicon.EMERGENCY_LINES.items()}
_LEGAL = [(re.compile(p), reply) for p, reply in lexicon.LEGAL_PATTERNS]
_HANDOFF = lexicon.compile_all(lexicon.HANDOFF_PATTERNS)
_CHITCHAT = lexicon.compile_all(lexicon.CHITCHAT_PATTERNS)
_OUT_OF_SCOPE = lexicon.compile_all(lexicon.OUT_OF_SCOPE_PATTERNS)
_CONSULTATION = lexicon.compile_all(lexicon.CONSULTATION_CUES)
_KINDS = {kind: lexicon.compile_all(p) for kind, p in lexicon.KIND_CUES.items()}
_QUESTION = lexicon.compile_all(lexicon.QUESTION_CUES)
_UTILITIES = lexicon.compile_all(lexicon.UTILITIES_CUES)
HANDOFF_REPLY_WEB = "网上咨询暂时无法直接接通人工。请填写诉求表单，工作人员会按时限与您联系；也可以拨打 12345 热线。"
add_user_words(place_names())  # jieba keeps 望京街道, 回龙观 … whole
register_place_names(place_names())

_CHOICE = re.compile(r"^(?:第)?([1-5一二三四五])(?:个|条|项)?$")
_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}


@dataclass
class Conversation:
    """What the engine remembers between turns (stored by `bot.conversations`)."""

    turns: list[dict[str, Any]] = field(default_factory=list)
    pending_options: list[str] = field(default_factory=list)  # entry ids offered by a clarify

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

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["due_at"] = self.due_at.isoformat() if self.due_at else None
        return {k: v for k, v in data.items() if v not in (None, [], {})}


def decide(text: str, conversation: Conversation, channel: str, kb: KnowledgeSnapshot, now: datetime) -> Decision:
    clean = normalise(text[: MAX_TEXT * 2])[:MAX_TEXT]
    if not clean:
        return Decision("clarify", "请问您想咨询或反映什么问题？可以直接用一句话描述。", ["empty text"])

    for line, pattern in _EMERGENCY.items():
        if match := pattern.search(clean):
            what = lexicon.EMERGENCY_LINES[line][0]
            return Decision("emergency", lexicon.EMERGENCY_REPLY.format(line=line, what=what), [f"emergency cue “{match.group(0)}”"],
                            line=line, urgency="emergency", due_at=due_at(now, "emergency"))

    if match := _HANDOFF.search(clean):
        reply = (HANDOFF_REPLY_WEB if channel == "web" else "正在为您转接人工服务，请稍候。您也可以先简单描述问题，方便工作人员了解。")
        return Decision("handoff", reply, [f"asked for a person “{match.group(0)}”"])

    for pattern, reply in _LEGAL:
        if match := pattern.search(clean):
            return Decision("legal_channel", reply, [f"legal-channel cue “{match.group(0)}”"])

    chosen = _chosen_option(clean, conversation, kb)
    if chosen is not None:
        return _answer(kb, chosen, 1.0, ["chose an offered option"])

    if _CHITCHAT.search(clean) and len(clean) <= 20:
        return Decision("clarify", "您好，我是北京12345智能助手。请问您想咨询什么政策，或者反映什么问题？", ["small talk"])
    if _OUT_OF_SCOPE.search(clean):
        return Decision("clarify", "这个问题超出了12345热线的服务范围。请问您有政务咨询、求助、投诉、举报或建议吗？", ["out of scope"])

    kind = request_kind(clean)
    question = bool(_QUESTION.search(clean))
    if kind is not None and not question:
        return _forward(clean, kind, now, [f"{kind} cue"])  # a grievance told, not a question asked

    hits = kb.search(clean, now, limit=3)
    needed = MIN_COVERAGE if question or len(clean) < 12 else MIN_COVERAGE_STATEMENT
    if question and len(hits) > 1 and hits[0].score >= CLEAR_LEAD * hits[1].score:
        needed = min(needed, MIN_COVERAGE_WITH_LEAD)
    if hits and hits[0].coverage >= needed:
        top = hits[0]
        tie = len(hits) > 1 and hits[1].score >= TIE_RATIO * top.score and hits[1].coverage >= needed
        if tie or (not _specific_enough(clean, kb) and len(hits) > 1):
            # Two entries fit equally well, or a bare topic word ("居住证"): offer the best two.
            return _clarify_between(kb, hits[:2], [f"tie or bare topic: bm25 {top.score:.2f} / {hits[1].score:.2f}"])
        if _specific_enough(clean, kb):
            return _answer(kb, top.entry_id, round(top.coverage, 3), [f"bm25 {top.score:.2f}, coverage {top.coverage:.2f}"])

    if kind is not None:
        return _forward(clean, kind, now, [f"{kind} cue", "no knowledge-base answer"])
    if not question and len(clean) >= 12 and _specific_enough(clean, kb) and not _CONSULTATION.search(clean):
        return _forward(clean, "help", now, ["a problem told at length, no knowledge-base answer"])
    if not _specific_enough(clean, kb) or not _CONSULTATION.search(clean):
        return Decision("clarify", "能再具体说一下吗？比如您想办理什么事，或者遇到了什么问题、在哪里。", ["too vague to decide"])
    return _forward(clean, "consultation", now, ["no knowledge-base answer"])


def _specific_enough(text: str, kb: KnowledgeSnapshot) -> bool:
    words = [t for t in kb.query_tokens(text) if not t.startswith("#")]
    if len(words) >= MIN_CONTENT_WORDS:
        return True
    return any(len(w) >= 2 and kb.idf.get(w, 0) >= kb.unseen_idf for w in words)  # one rare, specific term


def request_kind(text: str) -> str | None:
    for kind in ("report", "complaint", "help", "suggestion"):
        if _KINDS[kind].search(text):
            return kind
    return None


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
    return Decision("clarify", f"请问您想了解的是哪一项？请回复序号：\n{lines}", reasons, options=options)


def _forward(text: str, kind: str, now: datetime, reasons: list[str]) -> Decision:
    urgency = "utilities" if _UTILITIES.search(text) else "normal"
    place = find_place(text)
    location = {"district": place.district, "district_code": place.district_code, "street": place.street} if place else None
    phone = None
    if match := lexicon.PHONE_IN_TEXT.search(text):
        try:
            phone = to_e164(match.group(0))
        except InvalidPhone:
            phone = None
    labels = {"consultation": "咨询", "help": "求助", "complaint": "投诉", "report": "举报", "suggestion": "建议"}
    reply = (f"您反映的{labels[kind]}事项需要转交相关部门办理。请留下联系电话和具体地点，我们将为您登记工单并按时限办理。"
             if kind != "consultation" else
             "这个问题知识库暂时没有现成答复，我们将转交相关部门为您解答。请留下联系电话，方便工作人员联系您。")
    return Decision("forward", reply, reasons, kind=kind, urgency=urgency, due_at=due_at(now, urgency), location=location, phone=phone)
