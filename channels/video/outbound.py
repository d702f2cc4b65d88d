"""What the video channel sends out: nothing through the outbox. Its way out is the WebRTC media
and the session's events to the citizen page and the agent desk (service.py)."""
from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

from gateway.delivery_targets import DeliveryTarget
from gateway.settings import Settings


def outbound(settings: Settings, redis: Redis) -> Mapping[str, DeliveryTarget]:
    return {}
