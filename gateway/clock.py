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


_UTC_OFFSET_SECONDS = 8 * 3600  # China has had no daylight saving time since 1991
_date_cache: tuple[int, str] = (-1, "")


def beijing_date(at: datetime) -> str:
    """YYYYMMDD of `at` in Beijing; cached per day because every ticket id needs it."""
    global _date_cache
    day = int(at.timestamp() + _UTC_OFFSET_SECONDS) // 86400
    if _date_cache[0] != day:
        _date_cache = (day, at.astimezone(BEIJING).strftime("%Y%m%d"))
    return _date_cache[1]


def from_ms(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(BEIJING)


def beijing_time_text(at: datetime) -> str:
    """`2026-12-03 18:05` in Beijing time, for text people read."""
    return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
