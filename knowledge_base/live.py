"""The knowledge this instance serves, kept current: every publish or archive (on any instance)
is announced on pub/sub; the new snapshot and index are built in a thread and swapped in with
one assignment, so a request sees either the old index or the new one, never a half-built one.
A slow poll of the revision counter covers a missed announcement."""
from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis

from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, pause
from knowledge_base.snapshot import KnowledgeSnapshot
from knowledge_base.store import KnowledgeBase, changed_channel

log = logging.getLogger(__name__)


class LiveKnowledge:
    def __init__(self, redis: Redis, poll_seconds: float = 5.0) -> None:
        self.kb = KnowledgeBase(redis)
        self.redis = redis
        self.poll_seconds = poll_seconds
        self.snapshot = KnowledgeSnapshot.build(0, [], [])
        self.ready = asyncio.Event()
        self.last_build_seconds = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:
            revision = await self.kb.revision()
            if self.ready.is_set() and revision == self.snapshot.revision:
                return
            versions = await self.kb.published_versions()
            synonyms = await self.kb.synonyms()
            started = time.perf_counter()
            snapshot = await asyncio.to_thread(KnowledgeSnapshot.build, revision, versions, synonyms)
            self.last_build_seconds = time.perf_counter() - started
            self.snapshot = snapshot  # the atomic swap
            self.ready.set()
            log.info("knowledge index rebuilt", extra={"revision": revision, "entries": len(versions), "seconds": round(self.last_build_seconds, 3)})

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`; a Redis outage keeps serving the last snapshot and resubscribes (one
        warning, no traceback per retry) until Redis answers again."""
        outage = OutageLog(log, "knowledge subscription")
        while not stop.is_set():
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(changed_channel(self.redis))
                await self.refresh()  # anything published before the subscription took effect (or while Redis was away)
                outage.ok()
                next_poll = time.monotonic() + self.poll_seconds
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is not None or time.monotonic() >= next_poll:
                        await self.refresh()
                        next_poll = time.monotonic() + self.poll_seconds
            except REDIS_UNREACHABLE as exc:
                outage.failed(exc)
            except Exception:
                log.exception("knowledge refresh failed")
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # closing a dead connection may fail too
                    pass
            await pause(stop, 1)
