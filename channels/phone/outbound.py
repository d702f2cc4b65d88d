"""What the phone channel sends out: nothing through the outbox. Its way out is the agent desk
(live call events through gateway/live_events.py) and AMI actions to the PBX (commands.py)."""
from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

from gateway.delivery_targets import DeliveryTarget
from gateway.settings import Settings


def outbound(settings: Settings, redis: Redis) -> Mapping[str, DeliveryTarget]:
    return {}
