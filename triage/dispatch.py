"""Recommending a handling unit (承办单位) from the topic and the place, with the 派单目录.

Beijing dispatches street-first topics (物业, 噪声, 环境卫生 …) straight to the 街道/乡镇 of the
place (直派街乡) and the rest to the department of the topic in the district, or the city's
when no district is known. Each second-level topic the classifier finds likely contributes its
probability to its unit; the best unit is recommended with that probability as its confidence
and the next two are offered as alternatives.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from triage.classifier import Scored
from triage.taxonomy import topics

SEED = Path(__file__).with_name("data") / "dispatch_catalogue.yaml"
STREET_UNIT_TYPE = "街道乡镇"
PARTNER_UNIT_TYPE = "外省市12345"
ALTERNATIVES = 2


@dataclass(frozen=True)
class Unit:
    name: str
    type: str
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "confidence": round(self.confidence, 3)}


@dataclass(frozen=True)
class Recommendation:
    unit: Unit | None
    alternatives: list[Unit] = field(default_factory=list)


@dataclass(frozen=True)
class Catalogue:
    """The 派单目录 as data (see triage/data/dispatch_catalogue.yaml)."""

    street_units: dict[str, str]
    departments: dict[str, dict[str, str]]
    street_share: float = 0.75

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Catalogue":
        return cls(dict(raw["street_units"]), {k: dict(v) for k, v in raw["departments"].items()}, float(raw.get("street_share", 0.75)))

    def as_dict(self) -> dict[str, Any]:
        return {"street_units": self.street_units, "street_share": self.street_share, "departments": self.departments}

    def problems(self) -> list[str]:
        """What makes an edited catalogue unusable (every topic's unit type needs a department)."""
        out = [f"缺少承办部门类型：{t}" for t in sorted({t.unit_type for t in topics().values()}) if t not in self.departments]
        out += [f"部门类型“{k}”需要 district 和 city 两种名称" for k, v in self.departments.items() if not v.get("district") or not v.get("city")]
        if not 0 <= self.street_share <= 1:
            out.append("street_share 须在 0 到 1 之间")
        return out

    def department(self, unit_type: str, district: str | None) -> str:
        names = self.departments.get(unit_type) or {"district": "{district}" + unit_type, "city": "北京市" + unit_type}
        if not district:
            return names["city"]
        return names["district"].format(district=district, district_short=district.removesuffix("区"))

    def street_office(self, district: str, street: str) -> str:
        suffix = next((kind for kind in ("街道", "地区", "镇", "乡") if street.endswith(kind)), "街道")
        template = self.street_units.get(suffix, "{district}{street}办事处")
        return template.format(district=district, street=street)


@lru_cache(maxsize=1)
def seed_catalogue() -> Catalogue:
    return Catalogue.from_dict(yaml.safe_load(SEED.read_text(encoding="utf-8")))


_in_use: list[Catalogue] = []  # the process's current catalogue (triage.catalogue_store keeps it fresh)


def current_catalogue() -> Catalogue:
    return _in_use[0] if _in_use else seed_catalogue()


def use_catalogue(catalogue: Catalogue) -> None:
    _in_use[:] = [catalogue]


def recommend(catalogue: Catalogue, ranked_topics: list[Scored], district: str | None, street: str | None,
              partner: tuple[str, str] | None = None) -> Recommendation:
    """The recommended unit and two alternatives. `partner` is (id, hotline name) when the matter
    lies in Tianjin or Hebei: that hotline takes it (转外省市), whatever the topic."""
    if partner is not None:
        return Recommendation(Unit(partner[1], PARTNER_UNIT_TYPE, 1.0))
    weights: dict[tuple[str, str], float] = {}
    for scored in ranked_topics:
        topic = topics().get(scored.label)
        if topic is None:
            continue
        department = (catalogue.department(topic.unit_type, district), topic.unit_type)
        if topic.street_first and district and street:
            office = (catalogue.street_office(district, street), STREET_UNIT_TYPE)
            weights[office] = weights.get(office, 0.0) + scored.probability * catalogue.street_share
            weights[department] = weights.get(department, 0.0) + scored.probability * (1 - catalogue.street_share)
        else:
            weights[department] = weights.get(department, 0.0) + scored.probability
    ranked = sorted(weights.items(), key=lambda kv: kv[1], reverse=True)
    units = [Unit(name, kind, min(1.0, p)) for (name, kind), p in ranked]
    return Recommendation(units[0] if units else None, units[1: 1 + ALTERNATIVES])
