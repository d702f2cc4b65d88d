"""Time in one place: aware datetimes, and the Beijing calendar date used in ticket ids."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(BEIJING)


def now_ms() -> int:
    return int(time.time() * 1000)


def beijing_date(at: datetime) -> str:
    return at.astimezone(BEIJING).strftime("%Y%m%d")


def from_ms(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(BEIJING)
