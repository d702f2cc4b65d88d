"""What the web channel sends out: nothing through the outbox. A citizen's answer goes back in
the HTTP response (form receipt, chat reply); progress is read on the tracking page."""
from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

from gateway.delivery_targets import DeliveryTarget
from gateway.settings import Settings


def outbound(settings: Settings, redis: Redis) -> Mapping[str, DeliveryTarget]:
    return {}
