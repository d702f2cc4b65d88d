"""Beijing's administrative districts, as data."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).with_name("data") / "districts.json"


@lru_cache(maxsize=1)
def districts() -> dict[str, str]:
    """District name → GB/T 2260 code, in official order."""
    rows = json.loads(_DATA.read_text(encoding="utf-8"))["districts"]
    return {row["name"]: row["code"] for row in rows}


def district_code(name: str) -> str | None:
    return districts().get(name)
