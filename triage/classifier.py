"""Kind and topic classifiers: a linear SVM over TF-IDF of character 1–3-grams and jieba word
uni- and bigrams, with calibrated probabilities (scikit-learn), trained from the labelled corpus
in `triage/data/corpus/train.jsonl`.

Character n-grams need no segmentation and survive the typos and homophones citizen messages
are full of; words add what a phrase means. Of the variants tried on the held-out set (logistic
regression on characters alone, on 2–4-grams, on both), this one was the most accurate and the
fastest to train. Training takes about half a minute, so the fitted models are cached on disk,
keyed by the corpus's digest and the library's version; no model is ever downloaded.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jieba
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, make_union
from sklearn.svm import LinearSVC

from knowledge_base.text import normalise, normalise_head
from triage.fast_linear import FastClassifier, FastFeatures
from triage.model_cache import load_or_fit, version_of
from triage.taxonomy import topics

SHIPPED_CORPUS = Path(__file__).with_name("data") / "corpus"  # train.jsonl (generated) and handwritten.jsonl
MAX_CHARS = 1200  # a long letter's first part says what it is about
_RECIPE = "tfidf-char13-word12-svm-v2"  # change when the features or the model change


@dataclass(frozen=True)
class Scored:
    label: str
    probability: float


@dataclass(frozen=True)
class Prediction:
    kind: Scored
    topic: Scored  # second level
    category_l1: Scored
    topics: list[Scored]  # the best second-level classes, best first


class Classifiers:
    """The fitted feature union and the kind and topic classifiers on top of it (scikit-learn
    objects, as cached), scored one text at a time through `triage.fast_linear`."""

    def __init__(self, features: FeatureUnion, kind: CalibratedClassifierCV, topic: CalibratedClassifierCV, version: str) -> None:
        self.features, self.kind, self.topic, self.version = features, kind, topic, version
        self._row = FastFeatures(features)
        self._kind = FastClassifier(kind)
        self._topic = FastClassifier(topic)

    def probabilities(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Kind and topic probabilities (in the order of `kind.classes_`, `topic.classes_`)."""
        row = self._row(normalise_head(text, MAX_CHARS))
        return self._kind(row), self._topic(row)

    def predict(self, text: str) -> Prediction:
        kind_p, topic_p = self.probabilities(text)
        kinds = self._kind.classes
        names = self._topic.classes
        order = np.argsort(topic_p)[::-1]
        ranked = [Scored(names[i], float(topic_p[i])) for i in order[:5]]
        by_l1: dict[str, float] = {}
        for name, p in zip(names, topic_p):
            l1 = topics()[name].l1
            by_l1[l1] = by_l1.get(l1, 0.0) + float(p)
        best_l1 = max(by_l1.items(), key=lambda kv: kv[1])
        # The second level follows the first: the best class inside the most likely first level.
        inside = next(Scored(names[i], float(topic_p[i])) for i in order if topics()[names[i]].l1 == best_l1[0])
        k = int(np.argmax(kind_p))
        return Prediction(Scored(kinds[k], float(kind_p[k])), inside, Scored(best_l1[0], best_l1[1]), ranked)


def corpus_files() -> list[Path]:
    """The training corpus: HOTLINE_TRIAGE_CORPUS (a JSON-lines file or a folder of them, e.g.
    the shipped files plus exported agents' corrections), else the shipped folder."""
    path = Path(os.environ.get("HOTLINE_TRIAGE_CORPUS") or SHIPPED_CORPUS)
    return sorted(path.glob("*.jsonl")) if path.is_dir() else [path]


def corpus_rows(files: list[Path] | None = None) -> list[dict[str, Any]]:
    return [json.loads(line) for path in (files or corpus_files())
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def words(text: str) -> list[str]:
    """jieba's words (the word features' tokenizer; module level so a cached model can load it)."""
    return [w for w in jieba.lcut(text) if w.strip()]


def _features() -> FeatureUnion:
    return make_union(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, max_features=300_000),
        TfidfVectorizer(tokenizer=words, token_pattern=None, lowercase=False, ngram_range=(1, 2), sublinear_tf=True, min_df=2),
    )


def _classifier() -> CalibratedClassifierCV:
    # ensemble=False: one SVM on all the data, calibrated on cross-validated scores (one model to score)
    return CalibratedClassifierCV(LinearSVC(C=0.5), cv=3, ensemble=False)


def train(rows: list[dict[str, Any]], version: str = "adhoc") -> Classifiers:
    texts = [normalise(r["text"])[:MAX_CHARS] for r in rows]
    features = _features()
    matrix = features.fit_transform(texts)
    kind = _classifier().fit(matrix, [r["kind"] for r in rows])
    topic = _classifier().fit(matrix, [r["category"] for r in rows])
    return Classifiers(features, kind, topic, version)


@lru_cache(maxsize=1)
def classifiers() -> Classifiers:
    """The fitted classifiers: from the disk cache when it matches the corpus, else trained now."""
    corpus = corpus_files()
    version = version_of(_RECIPE, *(f.read_bytes() for f in corpus))

    def fit() -> tuple[FeatureUnion, CalibratedClassifierCV, CalibratedClassifierCV]:
        models = train(corpus_rows(corpus), version)
        return models.features, models.kind, models.topic

    features, kind, topic = load_or_fit(version, fit)
    return Classifiers(features, kind, topic, version)
