"""疑似重复: a request compared, right after intake, with the open requests of the last days.

A candidate is an earlier open request (gateway/open_requests.py keeps the indexes) that is
- from the same requester (phone, callback phone or WeChat id) with a similar text, or
- at the same place (district, and street when both name one) on the same topic with a
  near-identical text.
Texts are compared by cosine similarity of TF-IDF vectors of character 2–3-grams (scikit-learn:
hashed n-grams, so a number or a name the corpus never saw still counts, and weighs most; the
document frequencies come from triage's training corpus, so common words weigh little).
The thresholds are measured by bench/duplicates.py on a generated set with known duplicates.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np
from redis.asyncio import Redis
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.pipeline import Pipeline, make_pipeline

from gateway import keys
from gateway.open_requests import requester_ids
from gateway.redis_values import text
from gateway.ticket import DuplicateCandidate, Ticket
from gateway.tickets import documents
from knowledge_base.text import normalise
from triage.classifier import corpus_rows

WINDOW = timedelta(hours=72)  # how far back an open request counts as recent
SAME_REQUESTER_MIN = 0.5  # the same person: a similar text is the same matter filed again
SAME_PLACE_MIN = 0.7  # different people: only a near-identical text at the same place and topic
MAX_CANDIDATES = 3
MAX_COMPARED = 500  # per index, newest first: bounds the work for a busy district


_HASHING = HashingVectorizer(analyzer="char", ngram_range=(2, 3), n_features=2**20, alternate_sign=False, norm=None)


@lru_cache(maxsize=1)
def vectorizer() -> Pipeline:
    """Hashed n-gram counts, then TF-IDF weights fitted once per process on the training corpus
    (a second or two; `triage.classify.warm`). An n-gram the corpus lacks gets the highest IDF."""
    return make_pipeline(_HASHING, TfidfTransformer(sublinear_tf=True)).fit([normalise(r["text"]) for r in corpus_rows()])


def similarities(text_: str, others: list[str]) -> list[float]:
    """Cosine similarity of `text_` with each of `others` (the vectors are L2-normalised)."""
    if not others:
        return []
    matrix = vectorizer().transform([normalise(t) for t in [text_, *others]])
    return [float(s) for s in np.asarray((matrix[1:] @ matrix[0].T).todense()).ravel()]


def _same_place_and_topic(a: Ticket, b: Ticket) -> bool:
    la, lb = a.location, b.location
    if la is None or lb is None or not la.district or la.district != lb.district:
        return False
    if la.street and lb.street and la.street != lb.street:
        return False
    ta = a.dispatch.category if a.dispatch else None
    tb = b.dispatch.category if b.dispatch else None
    return bool(ta) and ta == tb


def decide(ticket: Ticket, others: list[Ticket], now: datetime) -> list[DuplicateCandidate]:
    """The candidates among `others`, best first (pure: the bench calls it too)."""
    others = [o for o in others if o.id != ticket.id and o.received_at <= ticket.received_at]
    mine = set(requester_ids(ticket))
    found = []
    for other, score in zip(others, similarities(ticket.content, [o.content for o in others])):
        if mine & set(requester_ids(other)) and score >= SAME_REQUESTER_MIN:
            found.append(DuplicateCandidate(ticket_id=other.id, score=round(score, 4), reason="same_requester", at=now))
        elif score >= SAME_PLACE_MIN and _same_place_and_topic(ticket, other):
            found.append(DuplicateCandidate(ticket_id=other.id, score=round(score, 4), reason="same_place_topic", at=now))
    return sorted(found, key=lambda c: c.score, reverse=True)[:MAX_CANDIDATES]


async def recent_open(redis: Redis, ticket: Ticket) -> list[Ticket]:
    """The open requests received in the window before this one: same district or same requester."""
    district = ticket.location.district_code if ticket.location and ticket.location.district_code else None
    indexes = [keys.open_by_requester(d) for d in requester_ids(ticket)] + ([keys.open_by_district(district)] if district else [])
    upper = ticket.received_at.timestamp() * 1000
    lower = (ticket.received_at - WINDOW).timestamp() * 1000
    async with redis.pipeline(transaction=False) as pipe:
        for index in indexes:
            pipe.zrevrangebyscore(index, upper, lower, start=0, num=MAX_COMPARED)
        found = await pipe.execute()
    ids = [i for i in dict.fromkeys(text(x) for rows in found for x in rows) if i != ticket.id]
    return await documents(redis, ids)


async def find(redis: Redis, ticket: Ticket, now: datetime) -> list[DuplicateCandidate]:
    return decide(ticket, await recent_open(redis, ticket), now)
