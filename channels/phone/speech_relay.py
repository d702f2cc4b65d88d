"""The phone leader's end of the speech nodes: it reads what the nodes heard
(`keys.SPEECH_EVENTS`) and hands each event to its leg, and it notices a node whose heartbeat
ran out, so that node's legs move to another one.

Only the leader reads, from the newest entry when it takes the lead: a leg belongs to the
leader that asked for it.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from redis.asyncio import Redis

from channels.phone.keys import SPEECH_EVENTS
from channels.phone.legs import LegTranscriber
from channels.phone.nodes import SpeechNodes
from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, stop_if_cancelled
from gateway.redis_values import text

log = logging.getLogger(__name__)

READ_BLOCK_MS = 1000
READ_COUNT = 500
RETRY_SECONDS = 1.0


class SpeechRelay:
    def __init__(self, redis: Redis, nodes: SpeechNodes, leading: asyncio.Event, check_seconds: float) -> None:
        self.redis = redis
        self.nodes = nodes
        self.leading = leading
        self.check_seconds = check_seconds  # how often the nodes of live legs are checked
        self.legs: dict[str, LegTranscriber[Any]] = {}
        self._outage = OutageLog(log, "speech events relay")

    def add(self, leg: LegTranscriber[Any]) -> None:
        self.legs[leg.stream_id] = leg

    def remove(self, stream_id: str) -> None:
        self.legs.pop(stream_id, None)

    async def run(self) -> None:
        """Read while leading; from the stream's end at each new lead."""
        while True:
            stop_if_cancelled()
            await self.leading.wait()
            try:
                last = await self._end_of_stream()
                while self.leading.is_set():
                    stop_if_cancelled()
                    found: Any = await self.redis.xread({SPEECH_EVENTS: last}, count=READ_COUNT, block=READ_BLOCK_MS)
                    self._outage.ok()
                    for _, entries in found or []:
                        for entry_id, fields in entries:
                            last = text(entry_id)
                            self._dispatch(fields)
            except REDIS_UNREACHABLE as exc:
                self._outage.failed(exc)
                await asyncio.sleep(RETRY_SECONDS)

    async def _end_of_stream(self) -> str:
        newest = await self.redis.xrevrange(SPEECH_EVENTS, count=1)
        return text(newest[0][0]) if newest else "0-0"

    def _dispatch(self, fields: dict[Any, Any]) -> None:
        values = {text(k): text(v) for k, v in fields.items()}
        leg = self.legs.get(values.get("s", ""))
        if leg is None or leg.node_id != values.get("n"):
            return  # a leg of another leader, or of a node it was moved away from
        try:
            data = json.loads(values.get("d") or "{}")
        except ValueError:
            log.warning("speech event with a bad payload skipped", extra={"stream": values.get("s")})
            return
        leg.deliver(values.get("t", ""), data)

    async def watch(self) -> None:
        """While leading: legs whose node's heartbeat ran out are lost (they then move)."""
        while True:
            stop_if_cancelled()
            await asyncio.sleep(self.check_seconds)
            for stream_id in [s for s, leg in self.legs.items() if leg.done.is_set()]:
                del self.legs[stream_id]
            if not self.leading.is_set() or not self.legs:
                continue
            live = list(self.legs.values())
            try:
                dead = await self.nodes.dead({leg.node_id for leg in live})
            except REDIS_UNREACHABLE:
                continue  # an outage is not a dead node; the relay logs it
            for leg in live:
                if leg.node_id in dead:
                    log.warning("speech node lost; moving its leg", extra={"node": leg.node_id, "ticket": leg.session.ticket_id, "leg": leg.leg})
                    leg.deliver("lost", {"reason": "node_lost"})
                    self.legs.pop(leg.stream_id, None)  # nothing more from that node is wanted
