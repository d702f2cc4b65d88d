"""When the best knowledge-base entry may be given as the answer, rather than offered as a
choice: it must cover enough of the question and lead the runner-up (or cover most of it).

BM25 ranks entries by what they share with a question; it does not notice what the question
asks that the entry never speaks of (贷款贴息 asked, 加装电梯补贴 found). On the team's labelled
sets, such wrong answers had low coverage and small leads, while right answers
rarely did (`hotline bot eval`: answer precision vs recall). Below these bars the bot offers the
best entries to choose from, or forwards, instead of answering another question.
"""
from __future__ import annotations

from knowledge_base.snapshot import Hit

ANSWER_COVERAGE = 0.5  # share of the question's information the entry must contain, …
ANSWER_LEAD = 1.2  # … its BM25 score leading the runner-up's by this factor,
SURE_COVERAGE = 0.6  # unless it covers this much of the question
# (No bar on the BM25 score itself: it grows with the size of the knowledge base.)


def confident(hits: list[Hit]) -> bool:
    """Whether hits[0] may be given as the answer."""
    if not hits:
        return False
    top = hits[0]
    lead = top.score / hits[1].score if len(hits) > 1 and hits[1].score > 0 else float("inf")
    return top.coverage >= ANSWER_COVERAGE and (lead >= ANSWER_LEAD or top.coverage >= SURE_COVERAGE)
