"""What the agent's screen offers while the caller speaks: knowledge-base answers for what has
been said so far, and ticket fields read from the transcript, each tied to its utterance.

Phone numbers said as characters (一三八…) are found by `gateway.phone_numbers.phone_in_text`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.phone_numbers import phone_in_text
from knowledge_base.snapshot import KnowledgeSnapshot
from triage.assessment import fields_said

SUGGESTION_LIMIT = 3
SUGGESTION_WINDOW_CHARS = 300  # what the caller said recently matters most
MIN_SUGGESTION_COVERAGE = 0.25


@dataclass(frozen=True)
class Utterance:
    index: int  # position in the ticket's transcript
    text: str
    start: float


def suggestions(snapshot: KnowledgeSnapshot, caller_text: str, now: datetime) -> list[dict[str, Any]]:
    text = caller_text[-SUGGESTION_WINDOW_CHARS:]
    if not text.strip():
        return []
    items = []
    for hit in snapshot.search(text, now, limit=SUGGESTION_LIMIT):
        if hit.coverage < MIN_SUGGESTION_COVERAGE:
            continue
        entry = snapshot.entries[hit.entry_id]
        items.append({
            "entry_id": entry.entry_id, "version": entry.version, "title": entry.title, "answer": entry.answer,
            "category": entry.category, "score": round(hit.score, 3), "coverage": round(hit.coverage, 2),
        })
    return items


def prefill(utterances: list[Utterance]) -> dict[str, dict[str, Any]]:
    """The first utterance that settles each field wins; a later one does not overwrite it
    (the agent corrects, the machine does not second-guess)."""
    found: dict[str, dict[str, Any]] = {}
    for u in utterances:
        said = fields_said(u.text) if "location" not in found or "kind" not in found else {}
        if "location" not in found and "location" in said:
            value, matched = said["location"]
            found["location"] = {"value": value, "segment": u.index, "text": u.text, "start": u.start, "matched": matched}
        if "kind" not in found and "kind" in said:
            found["kind"] = {"value": said["kind"], "segment": u.index, "text": u.text, "start": u.start}
        if "callback_phone" not in found and (phone := phone_in_text(u.text)):
            found["callback_phone"] = {"value": phone, "segment": u.index, "text": u.text, "start": u.start}
    return found
