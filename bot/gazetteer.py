"""Finding a Beijing place in free text: districts, their 街道/乡镇 and well-known landmarks,
from `gateway/data/beijing_gazetteer.json` (falls back to the 16 districts alone)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gateway.geography import districts

_DATA = Path(__file__).resolve().parents[1] / "gateway" / "data" / "beijing_gazetteer.json"


@dataclass(frozen=True)
class Place:
    district: str
    district_code: str
    street: str | None
    matched: str


@lru_cache(maxsize=1)
def _index() -> tuple[re.Pattern[str], dict[str, Place]]:
    names: dict[str, Place] = {}
    codes = districts()
    if _DATA.exists():
        data = json.loads(_DATA.read_text(encoding="utf-8"))
        for d in data["districts"]:
            for alias in [d["name"], *d.get("aliases", [])]:
                names.setdefault(alias, Place(d["name"], d["code"], None, alias))
            for sub in d.get("subdivisions", []):
                for alias in [sub["name"], *sub.get("aliases", [])]:
                    if len(alias) >= 2:
                        names.setdefault(alias, Place(d["name"], d["code"], sub["name"], alias))
            for landmark in d.get("landmarks", []):
                names.setdefault(landmark, Place(d["name"], d["code"], None, landmark))
    for name, code in codes.items():
        names.setdefault(name, Place(name, code, None, name))
        names.setdefault(name[:-1], Place(name, code, None, name[:-1]))
    pattern = re.compile("|".join(map(re.escape, sorted(names, key=len, reverse=True))))
    return pattern, names


def place_names() -> list[str]:
    return list(_index()[1])


def find_place(text: str) -> Place | None:
    """The most specific place mentioned: a street/town beats a bare district."""
    pattern, names = _index()
    found = [names[m.group(0)] for m in pattern.finditer(text)]
    if not found:
        return None
    with_street = [p for p in found if p.street]
    return with_street[0] if with_street else found[0]
