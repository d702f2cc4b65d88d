"""`hotline triage`: JSON lines in, one triage result per line out, for checking triage on a file
of messages without a running gateway.

    hotline triage --from-seed < messages.jsonl > results.jsonl

Each input line is {"id", "text", "channel"?}; each output line carries the decision a citizen
would get and what a filed request would be given (kind, urgency and deadline, topic, handling
unit with confidence and alternatives, place, partner hotline, KB entry). A line that is not a
JSON object with a text gets {"id", "error"} and the run goes on.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import IO, Any

from gateway import clock
from knowledge_base.snapshot import KnowledgeSnapshot
from knowledge_base.text import normalise_head
from triage.classify import classify
from triage.decision import MAX_TEXT, Conversation, decide

CHANNELS = {"web", "wechat", "phone", "video", "partner"}


def result(item_id: Any, text: str, channel: str, kb: KnowledgeSnapshot, now: datetime) -> dict[str, Any]:
    decision = decide(text, Conversation(), channel, kb, now)
    clean = normalise_head(text, MAX_TEXT)
    # What a filed request would get, also when the citizen's question was answered or diverted.
    classified = classify(clean) if clean and (decision.dispatch is None or decision.kind is None) else None
    dispatch = decision.dispatch or (classified.dispatch() if classified else {})
    unit = dispatch.get("unit") or None
    kind = decision.kind or ("consultation" if decision.type == "answer" else classified.kind if classified else None)
    place = decision.location or (classified.location() if classified else None)
    return {
        "id": item_id, "decision": decision.type, "line": decision.line, "kind": kind,
        "urgency": decision.urgency or "normal", "due_at": decision.due_at.isoformat() if decision.due_at else None,
        "category_l1": dispatch.get("category_l1"), "category": dispatch.get("category"),
        "unit": {"name": unit["name"], "type": unit["type"]} if unit else None,
        "unit_confidence": unit.get("confidence") if unit else None,
        "alternatives": [{"name": u["name"], "type": u["type"], "confidence": u.get("confidence")} for u in dispatch.get("alternatives", [])],
        "location": {"district": place.get("district"), "street": place.get("street")} if place else None,
        "partner": dispatch.get("partner"), "entry_id": decision.entry_id, "version": decision.version,
    }


def run(kb: KnowledgeSnapshot, channel: str, source: IO[str] = sys.stdin, sink: IO[str] = sys.stdout) -> int:
    now = clock.now()
    failed = 0
    for number, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError("each line must be a JSON object with a string \"text\"")
            item_channel = item.get("channel") or channel
            if item_channel not in CHANNELS:
                raise ValueError(f"unknown channel {item_channel!r}")
            out = result(item.get("id", number), item["text"], item_channel, kb, now)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            failed += 1
            out = {"id": number, "error": str(exc)}
        sink.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 1 if failed else 0
