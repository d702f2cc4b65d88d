"""An immutable view of what the bot may serve: published versions, their synonyms, and the
search index built over them. Built off the event loop and swapped in whole."""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import bm25s
import numpy as np

from knowledge_base.models import EntryVersion
from knowledge_base.text import IndexTokens, add_user_words, normalise, tokens


class SynonymMap:
    """Editors' synonym groups: every term is rewritten to its group's first term, in queries
    and in the index alike, so that 公基金, 住房公积金 and 公积金 meet."""

    def __init__(self, groups: list[list[str]]) -> None:
        self.groups = [[normalise(t) for t in g if t.strip()] for g in groups]
        mapping: dict[str, str] = {}
        for group in self.groups:
            for term in group[1:]:
                if term and term != group[0]:
                    mapping.setdefault(term, group[0])
        self.mapping = mapping
        terms = sorted(mapping, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, terms))) if terms else None

    def canonicalise(self, text: str) -> str:
        if self.pattern is None:
            return text
        return self.pattern.sub(lambda m: self.mapping[m.group(0)], text)


@dataclass(frozen=True)
class Hit:
    entry_id: str
    score: float
    coverage: float  # share of the query's information (IDF-weighted tokens) found in the matching phrasing


@dataclass
class KnowledgeSnapshot:
    """One search document per entry: its title, phrasings, tags, category and answer. Ranking
    is BM25 over those; `coverage` tells how much of the question the best entry speaks to."""

    revision: int
    entries: dict[str, EntryVersion]
    synonyms: SynonymMap
    doc_entry: list[str] = field(default_factory=list)
    doc_tokens: list[frozenset[str]] = field(default_factory=list)
    idf: dict[str, float] = field(default_factory=dict)
    unseen_idf: float = 0.0
    retriever: bm25s.BM25 | None = None

    @classmethod
    def build(cls, revision: int, versions: list[EntryVersion], synonym_groups: list[list[str]]) -> "KnowledgeSnapshot":
        synonyms = SynonymMap(synonym_groups)
        add_user_words([t for g in synonyms.groups for t in g])
        add_user_words([tag for v in versions for tag in v.tags] + [v.category for v in versions])
        snapshot = cls(revision=revision, entries={v.entry_id: v for v in versions}, synonyms=synonyms)
        index_tokens = IndexTokens()  # the KB's texts are cached from build to build; citizens' never
        corpus: list[list[str]] = []
        for version in versions:
            texts = [version.title, *version.phrasings, " ".join([version.category, *version.tags]), version.answer]
            doc = [t for text in texts for t in snapshot.query_tokens(text, index_tokens)]
            corpus.append(doc or ["∅"])
            snapshot.doc_entry.append(version.entry_id)
        index_tokens.keep()
        snapshot.doc_tokens = [frozenset(doc) for doc in corpus]
        df: dict[str, int] = {}
        for doc_set in snapshot.doc_tokens:
            for token in doc_set:
                df[token] = df.get(token, 0) + 1
        n = len(corpus)
        snapshot.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        # A word the KB has never seen counts like a typical word: it may be the heart of an
        # unanswerable question, or just colloquial filler.
        snapshot.unseen_idf = sum(snapshot.idf.values()) / len(snapshot.idf) if snapshot.idf else 1.0
        if corpus:
            retriever = bm25s.BM25()
            retriever.index(corpus, show_progress=False)
            snapshot.retriever = retriever
        return snapshot

    def query_tokens(self, text: str, tokenise: Callable[[str], tuple[str, ...]] = tokens) -> list[str]:
        """Search tokens; place names are dropped, since answers hold city-wide."""
        return [t for t in tokenise(self.synonyms.canonicalise(normalise(text))) if t not in _PLACE_TOKENS]

    def search(self, text: str, at: datetime, limit: int = 5) -> list[Hit]:
        """Best entries for `text` among those in force at `at`."""
        if self.retriever is None:
            return []
        query = self.query_tokens(text)
        if not query:
            return []
        scores = self.retriever.get_scores(query)
        wanted = min(len(scores), limit * 4)
        top = np.argpartition(scores, -wanted)[-wanted:]
        order = top[np.argsort(scores[top])[::-1]]
        weights = {t: _weight(t, self.idf, self.unseen_idf) for t in set(query)}
        total = sum(weights.values()) or 1.0
        hits: list[Hit] = []
        for doc in order:
            score = float(scores[doc])
            if score <= 0:
                break
            entry_id = self.doc_entry[doc]
            if not self.entries[entry_id].in_force(at):
                continue
            covered = sum(w for t, w in weights.items() if t in self.doc_tokens[doc])
            hits.append(Hit(entry_id, score, covered / total))
            if len(hits) >= limit:
                break
        return hits


BIGRAM_WEIGHT = 0.5  # character bigrams back up words (typos, unknown compounds) but count less
_PLACE_TOKENS: set[str] = {"北京", "北京市", "本市", "在京", "来京", "京"}


def register_place_names(names: list[str]) -> None:
    """Place names carry no meaning for a city-wide answer (set by the bot at start-up)."""
    _PLACE_TOKENS.update(normalise(n) for n in names if len(n) >= 2)


def _weight(token: str, idf: dict[str, float], unseen: float) -> float:
    if token.startswith("#"):
        return idf.get(token, 0.0) * BIGRAM_WEIGHT  # a bigram nobody wrote is word-boundary noise
    weight = idf.get(token, unseen)
    return weight * 0.5 if len(token) == 1 else weight  # single characters say little on their own
