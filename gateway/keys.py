"""Every Redis key and channel name the gateway uses, in one place.

Every name starts with `P`, whose hash tag `{hl}` puts all of them in one Redis Cluster slot: the
intake script allocates the ticket id inside Redis and then writes the ticket, its history, the
idempotency key, the day's sequence, indexes and streams in one step, and the outbox and ticket
scripts tie a ticket's keys to the shared streams, so no narrower tag keeps every script within
one slot (docs/architecture.md, "Redis keys")."""
from __future__ import annotations

from redis.asyncio import Redis

P = "{hl}:"

INTAKE_STREAM = P + "stream:intake"
OUTBOX_STREAM = P + "stream:outbox"
DEAD_LETTER_STREAM = P + "stream:deadletter"
OUTBOX_RETRY_ZSET = P + "outbox:retry"
RECENT_TICKETS = P + "tickets:recent"
LOCAL_INBOX = P + "localinbox"
LOCAL_INBOX_RELATED = P + "localinbox:related"  # merged duplicates, as the local inbox took them
LIVE_CALLS = P + "calls:live"  # linkedid -> the live view of a call, for desks that (re)load mid-call
USERS_SET = P + "users"
TRIAGE_CORRECTIONS = P + "triage:corrections"  # stream of agents' corrections of what triage proposed
DISPATCH_CATALOGUE = P + "triage:catalogue"  # the 派单目录 supervisors edit (JSON)
REPLICATION_MARK = P + "replication:mark"  # written before each WAIT (gateway/replication.py)

ROUTER_GROUP = "router"
OUTBOX_GROUP = "outbox"


def ticket(ticket_id: str) -> str:
    return f"{P}t:{ticket_id}"


def history(ticket_id: str) -> str:
    return f"{P}t:{ticket_id}:history"


def deliveries(ticket_id: str) -> str:
    return f"{P}t:{ticket_id}:deliveries"


def hop_marker(ticket_id: str, hop: str) -> str:
    return f"{P}t:{ticket_id}:hop:{hop}"


def redriven(dead_letter_id: str) -> str:
    """Tombstone of a re-driven dead letter: a late second re-drive is told `already_redriven`."""
    return f"{P}deadletter:redriven:{dead_letter_id}"


def idempotency(channel: str, channel_id: str) -> str:
    return f"{P}idem:{channel}:{channel_id}"


def sequence(date: str) -> str:
    return f"{P}seq:{date}"


def by_phone(e164: str) -> str:
    return f"{P}phone:{e164}"


def user(username: str) -> str:
    return f"{P}user:{username}"


def capable_users(capability: str) -> str:
    return f"{P}users:cap:{capability}"


def session(token: str) -> str:
    return f"{P}session:{token}"


def rate(bucket: str) -> str:
    return f"{P}rate:{bucket}"


def pubsub_channel(redis: Redis, name: str) -> str:
    """A pub/sub channel of this database. Redis delivers pub/sub to every database of a server,
    so two hotlines (or test runs) in different databases of one server would hear each other's
    desk events, personal data included: the name carries the database."""
    return f"{P}{name}:db{redis.connection_pool.connection_kwargs.get('db', 0)}"


def events_channel(redis: Redis) -> str:
    """Desk events: ticket changes, calls, transfers (gateway/live_events.py)."""
    return pubsub_channel(redis, "events")


def rates_bucket(hour: str) -> str:
    """The rate counters of one Beijing hour, `YYYYMMDDHH` (gateway/rates.py)."""
    return f"{P}rates:{hour}"


def followups_open(channel: str) -> str:
    """Tickets of a channel waiting for a 回访 callback, scored by when they became due."""
    return f"{P}followup:open:{channel}"


def open_by_district(district_code: str) -> str:
    """Open requests of one district by intake time, for the duplicate check."""
    return f"{P}dup:district:{district_code}"


def open_by_requester(digest: str) -> str:
    """Open requests of one requester (a digest of their phone or WeChat id, not the number)."""
    return f"{P}dup:requester:{digest}"


# The supervisor wall's watch lists (gateway/watch_lists.py), sorted sets of ticket ids.
DUE_OPEN = P + "wall:due"  # open requests by their handling deadline
AWAITING_RESPONSE = P + "wall:awaiting"  # filed requests nobody has responded to yet, by respond-by time
DUPLICATES_HELD = P + "wall:duplicates"  # 疑似重复 held for an agent, by intake time
POINTS = P + "wall:points"  # tickets with coordinates, by intake time
DESKS_ONLINE = P + "wall:desks"  # desk user -> last seen (s), refreshed by their open sockets

# 热点 (triage/hotspots.py)
HOTSPOTS = P + "hot:all"  # 热点 id -> its latest request (ms)
HOTSPOTS_OPEN = P + "hot:open"  # area field -> the open 热点's id


def hotspot_window(area_digest: str) -> str:
    """The requesters seen on one area and topic within the window, by time (ms)."""
    return f"{P}hot:w:{area_digest}"


def hotspot_window_tickets(area_digest: str) -> str:
    return f"{P}hot:wt:{area_digest}"


def hotspot(hotspot_id: str) -> str:
    return f"{P}hot:{hotspot_id}"


def hotspot_tickets(hotspot_id: str) -> str:
    return f"{P}hot:{hotspot_id}:t"
