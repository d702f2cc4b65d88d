"""The emergency check that runs before any engine: the embedded lexicon's cues for
119/120/110/122. With Rasa deciding, a statistical model that misses a fire must not be the
last word (a false alarm costs a sentence, a missed fire costs lives)."""
from __future__ import annotations

from datetime import datetime

from bot import lexicon
from bot.decision import MAX_TEXT, Decision
from gateway.deadlines import due_at
from knowledge_base.text import normalise

_EMERGENCY = {line: lexicon.compile_all(patterns) for line, (_, patterns) in lexicon.EMERGENCY_LINES.items()}


def emergency(text: str, now: datetime) -> Decision | None:
    """The emergency decision when the text has an emergency cue, else None."""
    clean = normalise(text[: MAX_TEXT * 2])[:MAX_TEXT]
    for line, pattern in _EMERGENCY.items():
        if match := pattern.search(clean):
            what = lexicon.EMERGENCY_LINES[line][0]
            return Decision("emergency", lexicon.EMERGENCY_REPLY.format(line=line, what=what),
                            [f"emergency guard: cue “{match.group(0)}”"], line=line, urgency="emergency",
                            due_at=due_at(now, "emergency"))
    return None
