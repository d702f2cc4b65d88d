"""What the supervisor wall (监督大屏) shows, read from what is kept incrementally: the day and
hour counters (gateway/rates.py), the watch lists (gateway/watch_lists.py), the live calls, the video
queue, the desks online and the 热点 (triage/hotspots.py). No ticket is scanned: at most the few
dozen tickets listed under deadlines and on the map are read."""
from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from channels.video import keys as video_keys
from gateway import keys, rates
from gateway.clock import BEIJING
from gateway.rate_report import group_labels
from gateway.redis_values import text
from gateway.summaries import summary
from gateway.ticket import Ticket
from triage import hotspots

DUE_SOON = timedelta(hours=2)
LISTED = 20  # tickets listed per deadline table (the counts are complete)
MAX_POINTS = 500  # newest first
ONLINE_WITHIN_SECONDS = 75  # a desk refreshes its presence every 30 s
VOLUME_DIMENSIONS = rates.WALL_DIMENSIONS
HOURLY_UP_TO_DAYS = 7  # longer periods are drawn per day
TABLES = ("channel", "kind", "topic", "district", "hour", "deadlines", "hotspots")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def days_of(start: datetime, end: datetime) -> list[datetime]:
    at = start.astimezone(BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    while at < end:
        out.append(at)
        at += timedelta(days=1)
    return out


async def _read_counts(redis: Redis, days: list[datetime], hours: list[datetime]) -> tuple[list[dict[str, int]], list[int]]:
    """Each day's wall counters, and the requests received in each hour (when hours are shown)."""
    async with redis.pipeline(transaction=False) as pipe:
        for day in days:
            pipe.hgetall(rates.day_bucket(day))
        for hour in hours:
            pipe.hget(rates.bucket(hour), "received")
        raw = await pipe.execute()
    per_day = [{text(k): int(v) for k, v in row.items()} for row in raw[:len(days)]]
    return per_day, [int(v or 0) for v in raw[len(days):]]


def _volume(days: list[datetime], per_day: list[dict[str, int]], hours: list[datetime], per_hour: list[int]
            ) -> tuple[dict[str, Any], dict[str, int]]:
    """Received per dimension value and per hour (per day over longer periods), and the totals of
    every counter."""
    total: dict[str, int] = defaultdict(int)
    by: dict[str, dict[str, int]] = {name: defaultdict(int) for name in VOLUME_DIMENSIONS}
    for counts in per_day:
        for name, n in counts.items():
            counter, _, rest = name.partition("|")
            if not rest:
                total[counter] += n
            elif counter == "received":
                dimension, _, value = rest.partition("|")
                if dimension in by:
                    by[dimension][value] += n
    if hours:
        timeline = [{"key": h.astimezone(BEIJING).strftime("%Y-%m-%d %H:00"),
                     "label": h.astimezone(BEIJING).strftime("%H时" if len(days) == 1 else "%m-%d %H时"), "count": n}
                    for h, n in zip(hours, per_hour)]
    else:
        timeline = [{"key": d.strftime("%Y-%m-%d"), "label": d.strftime("%m-%d"), "count": c.get("received", 0)}
                    for d, c in zip(days, per_day)]
    volume: dict[str, Any] = {"total": total.get("received", 0), "by_hour": timeline, "timeline": "hour" if hours else "day"}
    for dimension, counts in by.items():
        labels = group_labels(dimension)
        rows = [{"key": k, "label": labels.get(k, k), "count": n} for k, n in counts.items() if n]
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


async def _tickets(redis: Redis, ids: list[str]) -> list[Ticket]:
    docs = await redis.mget([keys.ticket(i) for i in ids]) if ids else []
    return [Ticket.model_validate_json(d) for d in docs if d is not None]


def _listed(ticket: Ticket) -> dict[str, Any]:
    row = summary(ticket)
    return {"ticket_id": row["id"], "summary": row["summary"], "channel": row["channel"], "district": row["district"],
            "kind_label": row["kind_label"], "status_label": row["status_label"], "due_at": row["due_at"]}


async def _deadlines(redis: Redis, now: float) -> dict[str, Any]:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(keys.DUE_OPEN, "-inf", f"({now}")
        pipe.zcount(keys.DUE_OPEN, now, now + DUE_SOON.total_seconds())
        pipe.zrevrangebyscore(keys.DUE_OPEN, f"({now}", "-inf", start=0, num=LISTED)  # the most recently overdue first
        pipe.zrangebyscore(keys.DUE_OPEN, now, now + DUE_SOON.total_seconds(), start=0, num=LISTED)
        pipe.zcard(keys.AWAITING_RESPONSE)
        pipe.zcount(keys.AWAITING_RESPONSE, "-inf", f"({now}")
        overdue_n, soon_n, overdue_ids, soon_ids, awaiting, awaiting_late = await pipe.execute()
    overdue = await _tickets(redis, [text(i) for i in overdue_ids])
    soon = await _tickets(redis, [text(i) for i in soon_ids])
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
    for ticket in await _tickets(redis, [text(i) for i in ids]):
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
    days = days_of(start, end)
    hours = rates.hours(start, end) if len(days) <= HOURLY_UP_TO_DAYS else []
    per_day, per_hour = await _read_counts(redis, days, hours)
    volume, total = _volume(days, per_day, hours, per_hour)
    counts = {c: total.get(c, 0) for c in rates.COUNTERS}
    return {
        "from": start.isoformat(), "to": end.isoformat(), "generated_at": datetime.fromtimestamp(now, BEIJING).isoformat(),
        "volume": volume, "outcomes": _outcomes(total), "rates": {**rates.rates(counts), **counts},
        "deadlines": await _deadlines(redis, now), **await _waiting(redis, now),
        "hotspots": [h.view(hotspot_window, now * 1000) for h in await hotspots.listed(redis)],
        "duplicates": {"pending": await redis.zcard(keys.DUPLICATES_HELD)},
        "points": await _points(redis, start, end),
    }
