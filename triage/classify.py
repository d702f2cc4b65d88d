"""What a request is about and who should handle it: kind, topic, place, partner hotline and
recommended handling unit, from the text alone (pure; no I/O).

The classifiers decide kind and topic; a few cues override the kind where they are reliable:
a citizen who writes 我要举报 is reporting, whatever else the letter says. A question about how
to do it (怎么举报, 投诉电话是多少) is a consultation and is left to the classifier.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from gateway.geography import district_code
from triage import places
from triage.classifier import Prediction, classifiers
from triage.dispatch import Catalogue, Recommendation, current_catalogue, recommend

# Self-labels: the citizen names what they are doing. Not after 怎么/如何/哪里/去哪 (a question
# about the procedure) and not before 电话/渠道/方式 (asking for the number).
_SELF_LABELS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(rf"(?<!怎么)(?<!如何)(?<!怎样)(?<!哪里)(?<!去哪)(?<!在哪)(?<!到哪)(?<!向谁)(?<!找谁)(?:{cue})(?!电话|渠道|方式|途径|流程|热线)"))
    for kind, cue in [
        ("report", r"(?:我|我们|特此|实名|匿名)(?:要|想|来)?举报|举报(?:一下|一个|某|这家|该|他们|此)"),
        ("suggestion", r"(?:我|我们)?(?:想|要)?(?:提|提出)?(?:个|一个|一条|几点)?建议(?:一下|：|:|，|,|相关部门|政府|在|增设|增加|延长|开通|设置)|提(?:个|一条)?(?:建议|意见)"),
        ("complaint", r"(?:我|我们)?(?:要|想|来)?投诉(?:一下|一个|某|这家|该|他们|此|物业|商家)"),
    ]
]


def beijing_fields(place: places.PlaceFinding | None) -> dict[str, str | None] | None:
    """A Beijing place as a ticket's location fields; None for no place or one elsewhere."""
    if place is None or place.region != "beijing" or not place.district:
        return None
    return {"district": place.district, "district_code": place.district_code, "street": place.street}


@dataclass(frozen=True)
class Classification:
    kind: str
    kind_confidence: float
    kind_reason: str
    prediction: Prediction
    place: places.PlaceFinding | None
    partner: str | None
    recommendation: Recommendation
    model: str

    def location(self) -> dict[str, str | None] | None:
        """The Beijing place as the ticket's location fields, or None."""
        return beijing_fields(self.place)

    def at(self, district: str, street: str | None, catalogue: Catalogue | None = None) -> "Classification":
        """The same request placed where a person said it is (a form's district, an agent's
        correction): that place's units, and no partner hotline."""
        place = places.PlaceFinding(district, district_code(district), street, district, None, "beijing")
        rec = recommend(catalogue or current_catalogue(), self.prediction.topics, district, street)
        return Classification(self.kind, self.kind_confidence, self.kind_reason, self.prediction, place, None, rec, self.model)

    def dispatch(self) -> dict[str, Any]:
        """The ticket's `dispatch` block (hotline.ticket/v1)."""
        rec = self.recommendation
        return {
            "category_l1": self.prediction.category_l1.label, "category": self.prediction.topic.label,
            "unit": rec.unit.as_dict() if rec.unit else None, "alternatives": [u.as_dict() for u in rec.alternatives],
            "partner": self.partner, "by": "bot", "model": self.model,
        }


# The partner directory's seed names the hotlines (a renamed hotline only changes its label here).
PARTNER_SEED = Path(__file__).resolve().parents[1] / "channels" / "partner" / "data" / "partners.yaml"


@lru_cache(maxsize=1)
def partner_names() -> dict[str, str]:
    rows = yaml.safe_load(PARTNER_SEED.read_text(encoding="utf-8")) or []
    return {row["id"]: row["name"] for row in rows}


def self_labelled_kind(text: str) -> str | None:
    for kind, pattern in _SELF_LABELS:
        if pattern.search(text):
            return kind
    return None


def classify(text: str, catalogue: Catalogue | None = None) -> Classification:
    models = classifiers()
    prediction = models.predict(text)
    labelled = self_labelled_kind(text)
    kind, confidence, reason = ((labelled, 1.0, "self-labelled") if labelled else
                                (prediction.kind.label, prediction.kind.probability, "classifier"))
    place = places.find_location(text)
    partner = place.partner if place is not None and place.region in ("tianjin", "hebei") else None
    district = place.district if place is not None and place.region == "beijing" else None
    street = place.street if place is not None and place.region == "beijing" else None
    hotline = (partner, partner_names().get(partner, partner)) if partner else None
    rec = recommend(catalogue or current_catalogue(), prediction.topics, district, street, hotline)
    return Classification(kind, confidence, reason, prediction, place, partner, rec, models.version)


def warm() -> None:
    """Load (or, on a first start, fit and cache) the models and indexes triage decides with, so
    that no citizen's message waits for them. Blocking: run it in a thread."""
    from triage.duplicates import vectorizer
    from triage.emergency_model import likely_emergency

    classify("启动时预热")
    likely_emergency("启动时预热")
    vectorizer()
