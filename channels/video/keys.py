"""Redis keys and channels of the video channel."""
from __future__ import annotations

from gateway.keys import P

QUEUE = P + "video:queue"  # zset: session id -> queued at (ms); rank = place in the queue
ACTIVE = P + "video:active"  # zset: session id -> started at (ms); not yet ended, any state


def session(session_id: str) -> str:
    return f"{P}video:s:{session_id}"


def chat(session_id: str) -> str:
    return f"{P}video:s:{session_id}:chat"


def declined(session_id: str) -> str:
    return f"{P}video:s:{session_id}:declined"


def alive(session_id: str) -> str:
    """Refreshed by the instance holding the media while it lives: a crashed instance's
    sessions expire and stop counting against the limit."""
    return f"{P}video:s:{session_id}:alive"


def events(session_id: str) -> str:
    """Pub/sub channel of one session: what the citizen's page is told."""
    return f"{P}video:ev:{session_id}"


def control(instance_id: str) -> str:
    """List of requests for the instance holding a session's media (accept, end)."""
    return f"{P}video:ctl:{instance_id}"

