"""What the agent's screen offers while the caller speaks: knowledge-base answers for what has
been said so far, and ticket fields read from the transcript, each tied to its utterance.

Speech recognition writes numbers as characters (一三八…) as often as digits, so phone numbers
are looked for after mapping spoken digits to digits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.decision import request_kind
from bot.gazetteer import find_place
from bot.lexicon import PHONE_IN_TEXT
from gateway.phone_numbers import InvalidPhone, to_e164
from knowledge_base.snapshot import KnowledgeSnapshot

SUGGESTION_LIMIT = 3
SUGGESTION_WINDOW_CHARS = 300  # what the caller said recently matters most
MIN_SUGGESTION_COVERAGE = 0.25

_SPOKEN_DIGITS = str.maketrans({"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
                                "五": "5", "六": "6", "七": "7", "拐": "7", "八": "8", "九": "9", "勾": "9"})
_DIGIT_RUN_GAPS = re.compile(r"(?<=\d)[\s，,、-]+(?=\d)")


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


def spoken_phone(text: str) -> str | None:
    """An E.164 number said in the utterance, in digits or spoken characters."""
    digits = _DIGIT_RUN_GAPS.sub("", text.translate(_SPOKEN_DIGITS))
    for match in PHONE_IN_TEXT.finditer(digits):
        try:
            return to_e164(match.group(0))
        except InvalidPhone:
            continue
    return None


def prefill(utterances: list[Utterance]) -> dict[str, dict[str, Any]]:
    """The first utterance that settles each field wins; a later one does not overwrite it
    (the agent corrects, the machine does not second-guess)."""
    found: dict[str, dict[str, Any]] = {}
    for u in utterances:
        if "location" not in found and (place := find_place(u.text)):
            found["location"] = {"value": {"district": place.district, "district_code": place.district_code, "street": place.street},
                                 "segment": u.index, "text": u.text, "start": u.start, "matched": place.matched}
        if "kind" not in found and (kind := request_kind(u.text)):
            found["kind"] = {"value": kind, "segment": u.index, "text": u.text, "start": u.start}
        if "callback_phone" not in found and (phone := spoken_phone(u.text)):
            found["callback_phone"] = {"value": phone, "segment": u.index, "text": u.text, "start": u.start}
    return found
