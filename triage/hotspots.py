"""热点: many citizens reporting the same matter in one place within a short window (e.g. five
about 供水 in 望京街道 within two hours), for 主动治理.

Every assessed request with a topic and a place is observed once (`observe`, right after triage
filled it in): its area (street when known, else district) and topic name a window, a sorted set
of the requesters seen there (a digest of phone or WeChat id; an anonymous request counts as
its own citizen). When the window holds `min_citizens` different people, a 热点 is raised with
the requests in it; while it is open, later requests on the same area and topic join it. One Lua
script does the counting and the raising, so concurrent router tasks raise one 热点, not two,
and a redelivered request is counted once.

A supervisor can publish a notice from a 热点 (a knowledge-base entry, so the bot answers with
it at once; knowledge_base/notices.py) and close it.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from gateway import keys
from gateway.clock import BEIJING
from gateway.live_events import publish_to_desks
from gateway.open_requests import is_open_request, requester_ids
from gateway.redis_values import text
from gateway.settings import Settings
from gateway.ticket import Ticket

TREND_SLOTS = 8  # the trend line: requests per eighth of the window
KEEP_CLOSED = 20  # closed 热点 still listed on the wall


@dataclass(frozen=True)
class HotspotRules:
    min_citizens: int = 5
    window: timedelta = timedelta(hours=2)

    @classmethod
    def of(cls, settings: Settings) -> "HotspotRules":
        return cls(settings.hotspot_min_citizens, timedelta(minutes=settings.hotspot_window_minutes))


# KEYS: window (citizens), window tickets, open 热点 per area, 热点 index, new 热点 hash, its tickets.
# ARGV: area field, citizen, ticket id, received (ms), window (ms), min citizens, new id, the new
# 热点's fields as JSON. Returns {state, id}: state 'none', 'joined' or 'raised'.
_OBSERVE_LUA = """
local now, window = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - window))
redis.call('PEXPIRE', KEYS[1], window)
redis.call('PEXPIRE', KEYS[2], window)
local open = redis.call('HGET', KEYS[3], ARGV[1])
if open then
  redis.call('ZADD', KEYS[4], now, open)
  return {'joined', open}
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[6]) then
  return {'none', ''}
end
local fields = cjson.decode(ARGV[8])
for k, v in pairs(fields) do redis.call('HSET', KEYS[5], k, v) end
local members = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do redis.call('ZADD', KEYS[6], members[i + 1], members[i]) end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[7])
redis.call('ZADD', KEYS[4], now, ARGV[7])
return {'raised', ARGV[7]}
"""


def area_of(ticket: Ticket) -> tuple[str, str, str] | None:
    """(area field, district, street) of a request with a place and a topic, else None."""
    location, dispatch = ticket.location, ticket.dispatch
    if location is None or not location.district or dispatch is None or not dispatch.category:
        return None
    street = location.street or ""
    return f"{location.district}|{street}|{dispatch.category}", location.district, street


def _digest(area: str) -> str:
    return hashlib.sha256(area.encode()).hexdigest()[:20]


def citizen_of(ticket: Ticket) -> str:
    ids = requester_ids(ticket)
    return ids[0] if ids else "anon:" + hashlib.sha256(ticket.id.encode()).hexdigest()[:16]


async def observe(redis: Redis, ticket: Ticket, rules: HotspotRules) -> str | None:
    """Count the request in its area's window; returns the 热点 id it raised or joined."""
    if not is_open_request(ticket) or (area := area_of(ticket)) is None:
        return None
    field_, district, street = area
    digest = _digest(field_)
    new_id = "HS-" + uuid.uuid4().hex[:10].upper()
    received_ms = int(ticket.received_at.timestamp() * 1000)
    topic = ticket.dispatch.category if ticket.dispatch else ""
    fields = {"id": new_id, "area": field_, "district": district, "street": street, "topic": topic or "",
              "raised_at": ticket.received_at.isoformat(), "state": "open"}
    state, found = await redis.eval(
        _OBSERVE_LUA, 6, keys.hotspot_window(digest), keys.hotspot_window_tickets(digest), keys.HOTSPOTS_OPEN,
        keys.HOTSPOTS, keys.hotspot(new_id), keys.hotspot_tickets(new_id),
        field_, citizen_of(ticket), ticket.id, received_ms, int(rules.window.total_seconds() * 1000), rules.min_citizens,
        new_id, json.dumps(fields, ensure_ascii=False))
    state, hotspot_id = text(state), text(found)
    if state == "none":
        return None
    if state == "joined":
        await redis.zadd(keys.hotspot_tickets(hotspot_id), {ticket.id: received_ms})
    await publish_to_desks(redis, {"type": "hotspot." + state, "hotspot_id": hotspot_id, "topic": topic,
                                   "district": district, "street": street}, audience=[])  # supervisors only
    return hotspot_id


@dataclass
class Hotspot:
    id: str
    area: str
    district: str
    street: str
    topic: str
    raised_at: str
    state: str
    tickets: list[tuple[str, float]] = field(default_factory=list)  # (id, received ms), oldest first
    notice: dict[str, Any] | None = None
    closed_at: str | None = None
    closed_by: str | None = None

    def trend(self, window: timedelta, now_ms: float) -> list[int]:
        """Requests per slot over the last window, oldest slot first."""
        slot = window.total_seconds() * 1000 / TREND_SLOTS
        counts = [0] * TREND_SLOTS
        for _, at in self.tickets:
            back = int((now_ms - at) // slot)
            if 0 <= back < TREND_SLOTS:
                counts[TREND_SLOTS - 1 - back] += 1
        return counts

    def view(self, window: timedelta, now_ms: float) -> dict[str, Any]:
        last = self.tickets[-1][1] if self.tickets else None
        return {
            "id": self.id, "topic": self.topic, "district": self.district, "street": self.street, "state": self.state,
            "count": len(self.tickets), "first_at": self.raised_at,
            "last_at": datetime.fromtimestamp(last / 1000, BEIJING).isoformat() if last else self.raised_at,
            "trend": self.trend(window, now_ms), "ticket_ids": [t for t, _ in self.tickets],
            "notice": self.notice, "closed_at": self.closed_at, "closed_by": self.closed_by,
        }


async def load(redis: Redis, hotspot_id: str) -> Hotspot | None:
    return (await load_many(redis, [hotspot_id]))[0]


async def load_many(redis: Redis, ids: list[str]) -> list[Hotspot | None]:
    """The 热点 of `ids`, in order (None where one is gone): one round trip for all of them."""
    async with redis.pipeline(transaction=False) as pipe:
        for hotspot_id in ids:
            pipe.hgetall(keys.hotspot(hotspot_id))
            pipe.zrange(keys.hotspot_tickets(hotspot_id), 0, -1, withscores=True)
        replies = await pipe.execute()
    return [_parsed(raw, members) for raw, members in zip(replies[::2], replies[1::2])]


def _parsed(raw: dict[Any, Any], members: list[tuple[Any, float]]) -> Hotspot | None:
    if not raw:
        return None
    doc = {text(k): text(v) for k, v in raw.items()}
    return Hotspot(
        id=doc["id"], area=doc["area"], district=doc["district"], street=doc.get("street", ""), topic=doc["topic"],
        raised_at=doc["raised_at"], state=doc["state"], tickets=[(text(m), float(s)) for m, s in members],
        notice=json.loads(doc["notice"]) if doc.get("notice") else None,
        closed_at=doc.get("closed_at"), closed_by=doc.get("closed_by"))


async def listed(redis: Redis) -> list[Hotspot]:
    """Open 热点 first, then the latest closed ones; each by its latest request, newest first."""
    ids = [text(i) for i in await redis.zrevrange(keys.HOTSPOTS, 0, 200)]
    found = [h for h in await load_many(redis, ids) if h is not None]
    opened = [h for h in found if h.state == "open"]
    closed = [h for h in found if h.state != "open"][:KEEP_CLOSED]
    return opened + closed


async def set_notice(redis: Redis, hotspot: Hotspot, notice: dict[str, Any]) -> None:
    await redis.hset(keys.hotspot(hotspot.id), "notice", json.dumps(notice, ensure_ascii=False))
    await publish_to_desks(redis, {"type": "hotspot.notice", "hotspot_id": hotspot.id}, audience=[])


async def close(redis: Redis, hotspot: Hotspot, by: str, at: datetime) -> bool:
    """Close it (False when it already was). Its window starts empty again, so the requests that
    raised it do not raise a new 热点 at once; new ones on the same area and topic count afresh."""
    if hotspot.state != "open":
        return False
    digest = _digest(hotspot.area)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.hotspot(hotspot.id), mapping={"state": "closed", "closed_at": at.isoformat(), "closed_by": by})
        pipe.hdel(keys.HOTSPOTS_OPEN, hotspot.area)
        pipe.delete(keys.hotspot_window(digest), keys.hotspot_window_tickets(digest))
        await pipe.execute()
    await publish_to_desks(redis, {"type": "hotspot.closed", "hotspot_id": hotspot.id}, audience=[])
    return True
