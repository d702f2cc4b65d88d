"""A second emergency detector beside the rules of `triage.emergency`: logistic regression over
character n-grams that learned what an emergency happening now reads like, from the rules'
development set (455 emergencies said in many ways, 612 traps) and the ordinary messages of the
training corpus.

Rules miss wordings nobody wrote a cue for (水已经漫到车门了, 小孩一个人在马路中间走); the model
generalises from the examples. It only ever makes a call *unsure*: the citizen sees the number
and the request is still taken, urgently. So a false alarm costs a sentence, a miss costs more.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from knowledge_base.text import normalise
from triage.classifier import corpus_files, corpus_rows
from triage.fast_linear import FastClassifier, FastFeatures
from triage.model_cache import load_or_fit, version_of

DEV_SET = Path(__file__).with_name("data") / "dev" / "emergency_legal_dev.yaml"
_RECIPE = "emergency-char13-lr-v1"
MIN_PROBABILITY = 0.8  # below this the model stays silent (on the team's sets: no new false alarm)
MAX_CHARS = 600


@dataclass(frozen=True)
class ModelCall:
    line: str
    probability: float


def _fit(dev: list[dict[str, object]], ordinary: list[str]) -> Pipeline:
    texts = [normalise(str(d["text"]))[:MAX_CHARS] for d in dev] + [normalise(t)[:MAX_CHARS] for t in ordinary]
    labels = [str(d.get("emergency") or "none") for d in dev] + ["none"] * len(ordinary)
    model = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2),
                          LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced"))
    return model.fit(texts, labels)


@lru_cache(maxsize=1)
def _model() -> Pipeline:
    corpus = corpus_files()
    dev_bytes = DEV_SET.read_bytes()
    version = version_of(_RECIPE, dev_bytes, *(f.read_bytes() for f in corpus))

    def fit() -> Pipeline:
        dev = yaml.safe_load(dev_bytes.decode("utf-8"))
        return _fit(dev, [str(row["text"]) for row in corpus_rows(corpus)])

    model: Pipeline = load_or_fit(version, fit)
    return model


@lru_cache(maxsize=1)
def _scorer() -> tuple[FastFeatures, FastClassifier]:
    model = _model()
    return FastFeatures(model.steps[0][1]), FastClassifier(model.steps[-1][1])


def likely_emergency(clean: str) -> ModelCall | None:
    """The line of an emergency the model is fairly sure of in normalised `clean`, else None."""
    features, classifier = _scorer()
    probabilities = classifier(features(clean[:MAX_CHARS]))
    classes = classifier.classes
    calm = probabilities[classes.index("none")]
    if 1 - calm < MIN_PROBABILITY:
        return None
    best = max((c for c in classes if c != "none"), key=lambda c: probabilities[classes.index(c)])
    return ModelCall(best, float(1 - calm))
