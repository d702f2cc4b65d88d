"""What the agent's screen offers while the caller speaks: knowledge-base answers for what has
been said so far, and ticket fields read from the transcript, each tied to its utterance.

Phone numbers said as characters (一三八…) are found by `gateway.phone_numbers.phone_in_text`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class PrefillScan:
    """Ticket fields the caller's words settle, reading each utterance once. The first utterance
    that settles a field wins (the agent corrects, the machine does not second-guess), so an
    utterance read once never needs reading again: each final costs one classification, not
    one per utterance of the call so far."""
    found: dict[str, dict[str, Any]] = field(default_factory=dict)
    scanned: int = 0  # utterances read so far

    def update(self, utterances: list[Utterance]) -> dict[str, dict[str, Any]]:
        """The fields found in `utterances` (the call's caller utterances so far, append-only)."""
        found = self.found
        for u in utterances[self.scanned:]:
            said = fields_said(u.text) if "location" not in found or "kind" not in found else {}
            if "location" not in found and "location" in said:
                value, matched = said["location"]
                found["location"] = {"value": value, "segment": u.index, "text": u.text, "start": u.start, "matched": matched}
            if "kind" not in found and "kind" in said:
                found["kind"] = {"value": said["kind"], "segment": u.index, "text": u.text, "start": u.start}
            if "callback_phone" not in found and (phone := phone_in_text(u.text)):
                found["callback_phone"] = {"value": phone, "segment": u.index, "text": u.text, "start": u.start}
        self.scanned = max(self.scanned, len(utterances))
        return dict(found)


def prefill(utterances: list[Utterance]) -> dict[str, dict[str, Any]]:
    """The fields all of `utterances` settle, read from the start."""
    return PrefillScan().update(utterances)
