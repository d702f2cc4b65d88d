"""What each custom action decides, from Rasa's tracker (intent, entities, slots) and the
knowledge snapshot. The result is the same `Decision` the embedded engine makes, so tickets
look alike whichever engine decided; only the reasons differ ("rasa intent …")."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.rasa.export import entry_for
from gateway.deadlines import due_at
from gateway.phone_numbers import InvalidPhone, to_e164
from knowledge_base.snapshot import KnowledgeSnapshot
from triage import lexicon
from triage.decision import HANDOFF_REPLY_WEB, Decision
from triage.legal import REPLIES as LEGAL_REPLIES
from triage.places import find_location

Tracker = dict[str, Any]
Events = list[dict[str, Any]]
Action = Callable[[Tracker, KnowledgeSnapshot, datetime], tuple[Decision, Events]]

_LINES = {"emergency_fire": "119", "emergency_medical": "120", "emergency_police": "110", "emergency_traffic": "122"}
_LEGAL = {"legal_litigation": "litigation", "legal_petition": "petition", "legal_arbitration": "arbitration"}
_KINDS = {"complaint": "complaint", "report": "report", "request_help": "help", "suggestion": "suggestion",
          "consult_other": "consultation"}
_LABELS = {"consultation": "咨询", "help": "求助", "complaint": "投诉", "report": "举报", "suggestion": "建议"}
_UTILITIES = lexicon.compile_all(lexicon.UTILITIES_CUES)
_CHOICE = re.compile(r"([1-5一二三四五])")
_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
CLARIFY_GAP = 0.03  # two KB intents closer than this in confidence: ask which one is meant


def _intent(tracker: Tracker) -> tuple[str, float]:
    intent = (tracker.get("latest_message") or {}).get("intent") or {}
    return str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)


def _text(tracker: Tracker) -> str:
    return str((tracker.get("latest_message") or {}).get("text") or "")


def _entity(tracker: Tracker, name: str) -> str | None:
    for entity in (tracker.get("latest_message") or {}).get("entities") or []:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    slot = (tracker.get("slots") or {}).get(name)
    return str(slot) if slot else None


def _slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value, "timestamp": None}


def _answer(kb: KnowledgeSnapshot, entry_id: str, confidence: float, reasons: list[str]) -> tuple[Decision, Events]:
    entry = kb.entries[entry_id]
    decision = Decision("answer", entry.answer, reasons, entry_id=entry_id, version=entry.version, confidence=round(confidence, 3))
    return decision, [_slot("kb_entry", entry_id), _slot("kb_version", float(entry.version)), _slot("kb_options", None)]


def _served(kb: KnowledgeSnapshot, entry_id: str, now: datetime) -> bool:
    entry = kb.entries.get(entry_id)
    return entry is not None and entry.in_force(now)


def answer_from_kb(tracker: Tracker, kb: KnowledgeSnapshot, now: datetime) -> tuple[Decision, Events]:
    """The entry behind the consultation intent, as currently published (the model may be
    older than the KB: an archived or expired entry is never served)."""
    intent, confidence = _intent(tracker)
    ranking = [(entry_for(str(r.get("name"))), float(r.get("confidence") or 0))
               for r in (tracker.get("latest_message") or {}).get("intent_ranking") or []]
    live = [(e, c) for e, c in ranking if e and _served(kb, e, now)]
    entry_id = entry_for(intent)
    if entry_id is None or not _served(kb, entry_id, now):
        return forward(tracker, kb, now, kind="consultation",
                       reasons=[f"rasa intent {intent} ({confidence:.2f})", "entry not served by the current knowledge base"])
    if len(live) > 1 and live[0][0] == entry_id and live[0][1] - live[1][1] < CLARIFY_GAP:
        options = [{"entry_id": e, "title": kb.entries[e].title} for e, _ in live[:2]]
        lines = "\n".join(f"{i}. {o['title']}" for i, o in enumerate(options, 1))
        decision = Decision("clarify", f"请问您想了解的是哪一项？请回复序号：\n{lines}",
                            [f"rasa intents {live[0][0]} {live[0][1]:.2f} / {live[1][0]} {live[1][1]:.2f} too close"], options=options)
        return decision, [_slot("kb_options", [o["entry_id"] for o in options])]
    return _answer(kb, entry_id, confidence, [f"rasa intent {intent} ({confidence:.2f})"])


def choose_option(tracker: Tracker, kb: KnowledgeSnapshot, now: datetime) -> tuple[Decision, Events]:
    options = (tracker.get("slots") or {}).get("kb_options") or []
    match = _CHOICE.search(_text(tracker))
    if match and options:
        raw = match.group(1)
        index = (_CHINESE_DIGITS.get(raw) or int(raw)) - 1
        if 0 <= index < len(options) and options[index] in kb.entries:
            return _answer(kb, options[index], 1.0, ["chose an offered option (rasa)"])
    return Decision("clarify", "能再具体说一下吗？比如您想办理什么事，或者遇到了什么问题、在哪里。",
                    ["rasa intent choose_option without an offered option"]), []


def emergency(tracker: Tracker, kb: KnowledgeSnapshot, now: datetime) -> tuple[Decision, Events]:
    intent, confidence = _intent(tracker)
    line = _LINES.get(intent, "110")
    what = lexicon.EMERGENCY_WHAT[line]
    return Decision("emergency", lexicon.EMERGENCY_REPLY.format(line=line, what=what), [f"rasa intent {intent} ({confidence:.2f})"],
                    line=line, urgency="emergency", due_at=due_at(now, "emergency")), []


def legal_channel(tracker: Tracker, kb: KnowledgeSnapshot, now: datetime) -> tuple[Decision, Events]:
    intent, confidence = _intent(tracker)
    reply = LEGAL_REPLIES[_LEGAL.get(intent, "litigation")]
    return Decision("legal_channel", reply, [f"rasa intent {intent} ({confidence:.2f})"]), []


def handoff(tracker: Tracker, kb: KnowledgeSnapshot, now: datetime) -> tuple[Decision, Events]:
    intent, confidence = _intent(tracker)
    web = str(tracker.get("sender_id") or "").startswith("web:")
    reply = HANDOFF_REPLY_WEB if web else "正在为您转接人工服务，请稍候。您也可以先简单描述问题，方便工作人员了解。"
    return Decision("handoff", reply, [f"rasa intent {intent} ({confidence:.2f})"]), []


def forward(tracker: Tracker, kb: KnowledgeSnapshot, now: datetime, kind: str | None = None,
            reasons: list[str] | None = None) -> tuple[Decision, Events]:
    """A request for a department: kind from the intent, place and phone from Rasa's entities."""
    intent, confidence = _intent(tracker)
    kind = kind or _KINDS.get(intent, "help")
    text = _text(tracker)
    reasons = reasons or [f"rasa intent {intent} ({confidence:.2f})"]
    urgency = "utilities" if _UTILITIES.search(text) else "normal"
    location = _location(tracker)
    phone = None
    if raw := _entity(tracker, "phone"):
        try:
            phone = to_e164(raw)
        except InvalidPhone:
            reasons.append("phone entity is not a valid number")
    if when := _entity(tracker, "time"):
        reasons.append(f"time mentioned “{when}”")
    reply = (f"您反映的{_LABELS[kind]}事项需要转交相关部门办理。请留下联系电话和具体地点，我们将为您登记工单并按时限办理。"
             if kind != "consultation" else
             "这个问题知识库暂时没有现成答复，我们将转交相关部门为您解答。请留下联系电话，方便工作人员联系您。")
    return Decision("forward", reply, reasons, kind=kind, urgency=urgency, due_at=due_at(now, urgency),
                    location=location, phone=phone), []


def _location(tracker: Tracker) -> dict[str, str | None] | None:
    # Entity values are gazetteer names or aliases, already read as places by Rasa: triage maps
    # them to the official district and street (a street also names its district).
    for name in ("street", "district"):
        if value := _entity(tracker, name):
            place = find_location(f"在{value}")
            if place and place.region == "beijing" and place.district:
                return {"district": place.district, "district_code": place.district_code, "street": place.street}
    return None


ACTIONS: dict[str, Action] = {
    "action_answer_from_kb": answer_from_kb,
    "action_choose_option": choose_option,
    "action_emergency": emergency,
    "action_legal_channel": legal_channel,
    "action_handoff": handoff,
    "action_forward_request": forward,
}
