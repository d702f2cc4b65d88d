"""The two-level topic taxonomy (triage/data/taxonomy.yaml) and, per second-level class, the
department type that handles it."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

_DATA = Path(__file__).with_name("data") / "taxonomy.yaml"


@dataclass(frozen=True)
class Topic:
    l1: str
    name: str  # second level
    unit_type: str
    street_first: bool  # Beijing's 直派街乡: the 街道/乡镇 of the place handles it first


@lru_cache(maxsize=1)
def topics() -> dict[str, Topic]:
    """Second-level name → topic, in the file's order."""
    raw = yaml.safe_load(_DATA.read_text(encoding="utf-8"))
    out: dict[str, Topic] = {}
    for l1, children in raw.items():
        for name, spec in children.items():
            out[name] = Topic(l1, name, spec["unit_type"], bool(spec.get("street_first")))
    return out


def first_levels() -> list[str]:
    return list(dict.fromkeys(t.l1 for t in topics().values()))
