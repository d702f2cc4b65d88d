"""The 派单目录 supervisors edit: stored in Redis as JSON (seeded from the file on first read),
followed by every process that triages (web and worker) within a few seconds of an edit."""
from __future__ import annotations

import asyncio
import json
import logging

from redis.asyncio import Redis

from gateway import keys
from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, pause
from triage.dispatch import Catalogue, seed_catalogue, use_catalogue

log = logging.getLogger(__name__)
REFRESH_SECONDS = 5.0


class CatalogueStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self) -> Catalogue:
        raw = await self.redis.get(keys.DISPATCH_CATALOGUE)
        return Catalogue.from_dict(json.loads(raw)) if raw else seed_catalogue()

    async def put(self, catalogue: Catalogue) -> None:
        await self.redis.set(keys.DISPATCH_CATALOGUE, json.dumps(catalogue.as_dict(), ensure_ascii=False))
        use_catalogue(catalogue)

    async def follow(self, stop: asyncio.Event) -> None:
        """Keep this process's catalogue equal to the stored one until `stop`."""
        outage = OutageLog(log, "dispatch catalogue")
        while not stop.is_set():
            try:
                use_catalogue(await self.get())
                outage.ok()
            except REDIS_UNREACHABLE as exc:
                outage.failed(exc)
            except (ValueError, KeyError, TypeError):  # a hand-edited key: keep the last good one
                log.exception("stored dispatch catalogue unreadable; keeping the previous one")
            await pause(stop, REFRESH_SECONDS)
