"""Reading the rate counters (gateway/rates.py) for a period, grouped by time or by a dimension:
one HGETALL per hour in the period, summed; no ticket is read."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from gateway import rates
from gateway.clock import BEIJING
from gateway.redis_values import text
from gateway.ticket import KIND_LABELS

GROUPS = ("hour", "day", "channel", "kind", "topic", "district", "unit", "total")
MAX_HOURS = 92 * 24  # a quarter: longer periods are read as several
CHANNEL_LABELS = {"web": "网站", "wechat": "微信", "phone": "电话", "video": "手语视频", "partner": "外省市转入"}
COLUMN_LABELS = {
    "received": "受理数", "responded": "已响应", "responded_on_time": "按时响应", "closed": "已办结", "closed_on_time": "按时办结",
    "followups": "回访数", "resolved": "已解决", "satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意",
    "response_rate": "响应率", "resolution_rate": "解决率", "satisfaction_rate": "满意率",
}


def group_labels(by: str) -> dict[str, str]:
    """Chinese labels of a dimension's values where they are codes (channel, kind)."""
    if by == "channel":
        return CHANNEL_LABELS
    if by == "kind":
        return {**{str(k): v for k, v in KIND_LABELS.items() if k}, rates.UNKNOWN["kind"]: "待分类"}
    return {}


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    by: str
    rows: list[dict[str, Any]]
    total: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "by": self.by, "rows": self.rows, "total": self.total}

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """The rows and the total, with Chinese headers (for gateway/csv_export.py)."""
        columns = [*rates.COUNTERS, "response_rate", "resolution_rate", "satisfaction_rate"]
        header = ["分组", *(COLUMN_LABELS[c] for c in columns)]
        return header, [[row["label"], *("" if row.get(c) is None else row[c] for c in columns)]
                        for row in [*self.rows, {**self.total, "label": "合计"}]]


def _row(key: str, label: str, counts: dict[str, int]) -> dict[str, Any]:
    values = {c: counts.get(c, 0) for c in rates.COUNTERS}
    return {"key": key, "label": label, **values, **rates.rates(values)}


async def hourly(redis: Redis, hours: list[datetime]) -> list[dict[str, int]]:
    """Each hour's counters (field -> count): one HGETALL per hour, in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        for hour in hours:
            pipe.hgetall(rates.bucket(hour))
        buckets = await pipe.execute()
    return [{text(name): int(value) for name, value in raw.items()} for raw in buckets]


async def report(redis: Redis, start: datetime, end: datetime, by: str) -> Report:
    """Counters of the hours in [start, end), grouped `by` one of GROUPS."""
    hours = rates.hours(start, end)
    buckets = await hourly(redis, hours)
    groups: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    total: dict[str, int] = defaultdict(int)
    for hour, raw in zip(hours, buckets):
        local = hour.astimezone(BEIJING)
        for name, n in raw.items():
            counter, _, rest = name.partition("|")
            if not rest:
                total[counter] += n
                if by in ("hour", "day"):
                    group = local.strftime("%Y-%m-%d %H:00") if by == "hour" else local.strftime("%Y-%m-%d")
                    groups[group][counter] += n
            elif by in rates.DIMENSIONS:
                dimension, _, value_name = rest.partition("|")
                if dimension == by:
                    groups[value_name][counter] += n
    labels = group_labels(by)
    rows = [_row(key, labels.get(key, key), counts) for key, counts in sorted(groups.items())]
    return Report(start, end, by, rows, _row("total", "合计", total))
