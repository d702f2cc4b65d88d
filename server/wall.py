"""What the supervisor wall (监督大屏) shows, read from what is kept incrementally: the hourly
counters (gateway/rates.py), the watch lists (gateway/watch_lists.py), the live calls, the video
queue, the desks online and the 热点 (triage/hotspots.py). No ticket is scanned: at most the few
dozen tickets listed under deadlines and on the map are read."""
from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from redis.asyncio import Redis

from channels.video import keys as video_keys
from gateway import keys, rates, watch_lists
from gateway.clock import BEIJING
from gateway.geography import districts
from gateway.rate_report import group_labels
from gateway.redis_values import text
from gateway.summaries import summary
from gateway.ticket import Channel as TicketChannel
from gateway.ticket import Kind, Ticket
from gateway.tickets import documents
from triage import hotspots
from triage.taxonomy import topics

DUE_SOON = timedelta(hours=2)
LISTED = 20  # tickets listed per deadline table (the counts are complete)
MAX_POINTS = 500  # newest first
ONLINE_WITHIN_SECONDS = 75  # a desk refreshes its presence every 30 s
VOLUME_DIMENSIONS = rates.WALL_DIMENSIONS
HOURLY_UP_TO_DAYS = 7  # longer periods are drawn per day
TABLES = ("channel", "kind", "topic", "district", "hour", "deadlines", "hotspots")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@lru_cache(maxsize=1)
def wall_fields() -> tuple[str, ...]:
    """The counter fields the wall reads from each hour: every total, and `received` per known
    channel, kind, topic (triage's taxonomy: what the classifier and the desk assign) and
    district, each with its unknown value."""
    values = {
        "channel": [str(c) for c in TicketChannel],
        "kind": [str(k) for k in Kind] + [rates.UNKNOWN["kind"]],
        "topic": list(topics()) + [rates.UNKNOWN["topic"]],
        "district": list(districts()) + [rates.UNKNOWN["district"]],
    }
    totals = [*rates.COUNTERS, *rates.OUTCOMES.values()]
    return (*totals, *(f"received|{name}|{value}" for name in VOLUME_DIMENSIONS for value in values[name]))


async def _read_counts(redis: Redis, hours: list[datetime]) -> tuple[list[int], list[int]]:
    """The period's sum of each field of `wall_fields()`, and the requests received in each hour:
    one HMGET per hour, all in one round trip."""
    fields = wall_fields()
    async with redis.pipeline(transaction=False) as pipe:
        for hour in hours:
            pipe.hmget(rates.bucket(hour), fields)
        rows = await pipe.execute()
    sums = [0] * len(fields)
    for row in rows:
        for i, value in enumerate(row):
            if value is not None:
                sums[i] += int(value)
    received = fields.index("received")
    return sums, [int(row[received] or 0) for row in rows]


def _timeline(hours: list[datetime], per_hour: list[int]) -> tuple[str, list[dict[str, Any]]]:
    """Received per hour for up to HOURLY_UP_TO_DAYS days, else per day."""
    if len(hours) <= HOURLY_UP_TO_DAYS * 24:
        one_day = len(hours) <= 24
        return "hour", [{"key": h.astimezone(BEIJING).strftime("%Y-%m-%d %H:00"),
                         "label": h.astimezone(BEIJING).strftime("%H时" if one_day else "%m-%d %H时"), "count": n}
                        for h, n in zip(hours, per_hour)]
    days: dict[str, int] = defaultdict(int)
    for hour, n in zip(hours, per_hour):
        days[hour.astimezone(BEIJING).strftime("%Y-%m-%d")] += n
    return "day", [{"key": day, "label": day[5:], "count": n} for day, n in days.items()]


def _volume(hours: list[datetime], sums: list[int], per_hour: list[int]) -> tuple[dict[str, Any], dict[str, int]]:
    """Received per dimension value and over time, and the totals of every counter."""
    total: dict[str, int] = {}
    by: dict[str, dict[str, int]] = {name: {} for name in VOLUME_DIMENSIONS}
    for name, n in zip(wall_fields(), sums):
        counter, _, rest = name.partition("|")
        if not rest:
            total[counter] = n
        elif n:
            dimension, _, value = rest.partition("|")
            by[dimension][value] = n
    step, timeline = _timeline(hours, per_hour)
    volume: dict[str, Any] = {"total": total.get("received", 0), "by_hour": timeline, "timeline": step}
    for dimension, counts in by.items():
        labels = group_labels(dimension)
        rows = [{"key": k, "label": labels.get(k, k), "count": n} for k, n in counts.items()]
        volume[f"by_{dimension}"] = sorted(rows, key=lambda r: (-r["count"], r["key"]))
    return volume, total


def _outcomes(total: dict[str, int]) -> dict[str, Any]:
    received = total.get("received", 0)
    out: dict[str, Any] = {name: total.get(name, 0) for name in rates.OUTCOMES.values()}
    out.update({
        "direct_answer_rate": _share(out["answered"], received),
        "forward_share": _share(out["forwarded"], received),
        "transfer_share": _share(out["transferred"], received),
        "diversion_share": _share(out["diverted"], received),
    })
    return out


def _listed(ticket: Ticket) -> dict[str, Any]:
    row = summary(ticket)
    due = datetime.fromtimestamp(watch_lists.deadline(ticket), BEIJING)  # a 延期's new deadline, as the list is sorted by
    return {"ticket_id": row["id"], "summary": row["summary"], "channel": row["channel"], "district": row["district"],
            "kind_label": row["kind_label"], "status_label": row["status_label"], "due_at": due.isoformat()}


async def _deadlines(redis: Redis, now: float) -> dict[str, Any]:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(keys.DUE_OPEN, "-inf", f"({now}")
        pipe.zcount(keys.DUE_OPEN, now, now + DUE_SOON.total_seconds())
        pipe.zrevrangebyscore(keys.DUE_OPEN, f"({now}", "-inf", start=0, num=LISTED)  # the most recently overdue first
        pipe.zrangebyscore(keys.DUE_OPEN, now, now + DUE_SOON.total_seconds(), start=0, num=LISTED)
        pipe.zcard(keys.AWAITING_RESPONSE)
        pipe.zcount(keys.AWAITING_RESPONSE, "-inf", f"({now}")
        overdue_n, soon_n, overdue_ids, soon_ids, awaiting, awaiting_late = await pipe.execute()
    overdue = await documents(redis, [text(i) for i in overdue_ids])
    soon = await documents(redis, [text(i) for i in soon_ids])
    return {"overdue_count": overdue_n, "due_soon_count": soon_n,
            "overdue": [_listed(t) for t in overdue], "due_soon": [_listed(t) for t in soon],
            "awaiting_response": awaiting, "awaiting_response_late": awaiting_late}


async def _waiting(redis: Redis, now: float) -> dict[str, Any]:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hvals(keys.LIVE_CALLS)
        pipe.zcard(video_keys.QUEUE)
        pipe.zrange(video_keys.QUEUE, 0, 0, withscores=True)
        pipe.zcount(keys.DESKS_ONLINE, now - ONLINE_WITHIN_SECONDS, "+inf")
        calls, video_n, video_first, desks = await pipe.execute()
    queued = [json.loads(c) for c in calls]
    queued = [c for c in queued if c.get("state") in ("new", "queued", "ringing")]
    waits = [now - datetime.fromisoformat(c["started_at"]).timestamp() for c in queued if c.get("started_at")]
    video_wait = now - video_first[0][1] / 1000 if video_first else 0.0
    return {"waiting": {"phone_queue": len(queued), "phone_longest_wait_s": round(max(waits, default=0.0)),
                        "video_queue": video_n, "video_longest_wait_s": round(max(video_wait, 0.0))},
            "agents_online": desks}


async def _points(redis: Redis, start: datetime, end: datetime) -> list[dict[str, Any]]:
    ids = await redis.zrevrangebyscore(keys.POINTS, f"({end.timestamp()}", start.timestamp(), start=0, num=MAX_POINTS)
    out = []
    for ticket in await documents(redis, [text(i) for i in ids]):
        location = ticket.location
        if location is None or location.latitude is None or location.longitude is None:
            continue
        out.append({"ticket_id": ticket.id, "lat": location.latitude, "lon": location.longitude,
                    "topic": ticket.dispatch.category if ticket.dispatch else None,
                    "district": location.district, "at": ticket.received_at.isoformat()})
    return out


async def snapshot(redis: Redis, start: datetime, end: datetime, hotspot_window: timedelta) -> dict[str, Any]:
    """The wall for the hours in [start, end): volumes and rates of the period; deadlines,
    queues and 热点 as they are now."""
    now = time.time()
    hours = rates.hours(start, end)
    volume, total = _volume(hours, *await _read_counts(redis, hours))
    counts = {c: total.get(c, 0) for c in rates.COUNTERS}
    return {
        "from": start.isoformat(), "to": end.isoformat(), "generated_at": datetime.fromtimestamp(now, BEIJING).isoformat(),
        "volume": volume, "outcomes": _outcomes(total), "rates": {**rates.rates(counts), **counts},
        "deadlines": await _deadlines(redis, now), **await _waiting(redis, now),
        "hotspots": [h.view(hotspot_window, now * 1000) for h in await hotspots.listed(redis)],
        "duplicates": {"pending": await redis.zcard(keys.DUPLICATES_HELD)},
        "points": await _points(redis, start, end),
    }
