"""A speech node: an AudioSocket server whose streams are decoded with Vosk, and what it hears
sent to the phone leader through Redis (`keys.SPEECH_EVENTS`: opened, partial, final, lag,
closed, in order per stream). It registers its address, capacity and load with a heartbeat
(`nodes.py`); the leader chooses a node per leg and writes the leg's description where the
node finds it when Asterisk connects. `hotline speech-node` runs one as its own process;
`hotline run` serves one in-process unless HOTLINE_SPEECH_LOCAL_NODE is off.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
import uuid
from typing import Any

from redis.asyncio import Redis

from channels.phone.audiosocket import AudioSocketServer, CloseReason, ExpectedStream
from channels.phone.keys import SPEECH_EVENTS
from channels.phone.nodes import NodeInfo, SpeechNodes
from channels.phone.settings import PhoneSettings
from gateway.redis_faults import REDIS_UNREACHABLE, OutageLog, describe, stop_if_cancelled
from speech.recognizer import DiscardingLeg, Final, Lag, LegStream, Partial, SpeechEngine, SpeechEvent

log = logging.getLogger(__name__)

EVENTS_MAXLEN = 100_000  # the leader reads as they come; this bounds the stream if it does not
STALE_ASSIGNMENT_SECONDS = 60.0  # a leg whose spy never connected (its originate failed, the leader died)
SWEEP_EVERY_BEATS = 10


def default_capacity(graph: str | None) -> int:
    """Legs per node when HOTLINE_SPEECH_NODE_CAPACITY is not set, by the graph it decodes with.
    Static graph: six per core. The reference machine (2 cores, shared with the gateway, Redis
    and the peers) kept 24 legs of continuous speech under a second of lag with partials p95
    under 800 ms (bench/speech.py); half of that leaves room for bursts and other load. The
    model's own lookahead graph: two per core. It sustained half as many legs (12 quiet, 4-6 on
    a loaded machine), and its new recognizers cost several times more on unfamiliar speech."""
    return (6 if graph == "static" else 2) * (os.cpu_count() or 1)


class NodeLeg:
    """The StreamSink of one AudioSocket stream on a node."""

    def __init__(self, node: SpeechNode, expected: ExpectedStream) -> None:
        self.node = node
        self.stream_id = str(expected.stream_id)
        self.expected = expected
        self.stream: LegStream | DiscardingLeg | None = None
        self.seconds_received = 0.0
        self.lag = 0.0

    def audio(self, pcm: bytes, rate: int) -> None:
        if self.stream is None:
            self.stream = self.node.engine.open_leg(rate, self._on_speech)
        self.stream.feed(pcm, rate)
        self.seconds_received += len(pcm) / 2 / rate

    def dtmf(self, digit: str) -> None:
        pass  # nobody needs the digits of a spied leg yet

    async def closed(self, reason: CloseReason, detail: str) -> None:
        try:
            if self.stream is not None:
                await self.stream.close()  # decodes what is queued and flushes the last words
        finally:
            await self.node.publish(self.stream_id, "closed", {
                "reason": reason, "detail": detail, "seconds_received": round(self.seconds_received, 2)})
            await self.node.leg_done(self)

    async def _on_speech(self, event: SpeechEvent) -> None:
        if isinstance(event, Partial):
            await self.node.publish(self.stream_id, "partial", {"text": event.text, "audio_time": event.audio_time})
        elif isinstance(event, Final):
            s = event.segment
            await self.node.publish(self.stream_id, "final", {"start": s.start, "end": s.end, "text": s.text, "confidence": s.confidence})
        elif isinstance(event, Lag):
            self.lag = event.seconds if event.behind else 0.0
            await self.node.publish(self.stream_id, "lag", {"seconds": event.seconds, "behind": event.behind})


class SpeechNode:
    def __init__(self, redis: Redis, phone: PhoneSettings, engine: SpeechEngine, allow: list[str], name: str = "speech") -> None:
        self.redis = redis
        self.registry = SpeechNodes(redis)
        self.engine = engine
        # A fresh id per start: a restarted node is a new node, never mistaken for the one that died.
        self.node_id = f"{name}-{secrets.token_hex(3)}"
        self.configured_capacity = phone.speech_node_capacity  # 0: by the graph, once the model is loaded
        self.capacity = phone.speech_node_capacity or default_capacity(None)
        self.ttl_ms = int(phone.speech_node_ttl_seconds * 1000)
        self.advertise = phone.audiosocket_advertise
        self.audio = AudioSocketServer(phone.audiosocket_listen, allow, self._open, phone.audiosocket_slin_rate, lookup=self._lookup)
        self.legs: dict[str, NodeLeg] = {}
        self.state = "starting"  # starting | registered | unregistered (heartbeat failing) | off (no model) | draining | stopped
        self.error = ""
        self.started_at = time.time()
        self._beat: asyncio.Task[None] | None = None
        self._outage = OutageLog(log, "speech node heartbeat")
        self._publish_outage = OutageLog(log, "speech events")

    @property
    def address(self) -> str:
        """What Asterisk dials for this node: the advertised address; `auto`: this host's own
        address and the listening port (replicas of one container image, each its own IP)."""
        if self.advertise and self.advertise != "auto":
            return self.advertise
        host = self.audio.host
        if self.advertise == "auto":
            host = socket.gethostbyname(socket.gethostname())
        elif host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"[{host}]:{self.audio.port}" if ":" in host else f"{host}:{self.audio.port}"

    async def start(self) -> None:
        await self.engine.start()
        await self.audio.start()
        if self.engine.model is None:
            self.state = "off"  # no model: it takes no legs, so it does not register
            return
        if not self.configured_capacity:
            self.capacity = default_capacity(self.engine.graph)
        self.engine.warm_recognizers = self.capacity  # an ended leg's recognizer waits for the next
        self._beat = asyncio.create_task(self._heartbeat(), name="speech-node-heartbeat")
        log.info("speech node started", extra={"node": self.node_id, "audiosocket": self.address, "capacity": self.capacity})

    async def stop(self) -> None:
        """Drain: take no new legs, end the streams (each sends its last words and `closed` with
        reason `shutdown`, on which the leader moves the leg to another node at once), then
        leave the registry."""
        if self._beat is not None:
            self._beat.cancel()
        registered = self.state != "off"
        if registered:
            self.state = "draining"
            await self._quietly(self.registry.heartbeat(self.info(), self.ttl_ms))
        await self.audio.stop()
        if registered:
            self.state = "stopped"
            await self._quietly(self.registry.deregister(self.node_id))
        await self.engine.close()

    async def _quietly(self, step: Any) -> None:
        try:
            await asyncio.wait_for(step, self.ttl_ms / 1000)
        except REDIS_UNREACHABLE as exc:  # its heartbeat runs out by itself
            log.warning("speech node could not update the registry while stopping", extra={"node": self.node_id, "error": describe(exc)})

    def info(self) -> NodeInfo:
        return NodeInfo(node_id=self.node_id, address=self.address, capacity=self.capacity, load=len(self.legs),
                        lag=round(max((leg.lag for leg in self.legs.values()), default=0.0), 1),
                        warm=self.engine.idle_recognizers, started_at=self.started_at, draining=self.state in ("draining", "stopped"))

    async def _heartbeat(self) -> None:
        beats = 0
        while True:
            stop_if_cancelled()
            try:
                await asyncio.wait_for(self.registry.heartbeat(self.info(), self.ttl_ms), self.ttl_ms / 3000)
                if beats % SWEEP_EVERY_BEATS == 0:
                    await self._sweep()
            except REDIS_UNREACHABLE as exc:
                self._outage.failed(exc)
                self.state, self.error = "unregistered", describe(exc)
            else:
                self._outage.ok()
                self.state, self.error = "registered", ""
            beats += 1
            await asyncio.sleep(self.ttl_ms / 3000)

    async def _sweep(self) -> None:
        """Free the places of legs whose spy never came."""
        now = time.time()
        stale = [sid for sid, leg in (await self.registry.assignments(self.node_id)).items()
                 if sid not in self.legs and now - leg.assigned_at > STALE_ASSIGNMENT_SECONDS]
        await self.registry.release(self.node_id, *stale)

    async def _lookup(self, stream_id: uuid.UUID) -> ExpectedStream | None:
        leg = await self.registry.assignment(self.node_id, str(stream_id))
        if leg is None:
            return None
        return ExpectedStream(stream_id=stream_id, linkedid=leg.linkedid, leg=leg.leg, channel=leg.channel, ticket_id=leg.ticket_id)

    async def _open(self, expected: ExpectedStream) -> NodeLeg:
        leg = NodeLeg(self, expected)
        self.legs[leg.stream_id] = leg
        # The leader places the leg on the call's clock from this moment.
        await self.publish(leg.stream_id, "opened", {"at": time.time()})
        return leg

    async def leg_done(self, leg: NodeLeg) -> None:
        self.legs.pop(leg.stream_id, None)
        try:
            await self.registry.release(self.node_id, leg.stream_id)
        except REDIS_UNREACHABLE:  # the sweep frees it later
            pass

    async def publish(self, stream_id: str, kind: str, data: dict[str, Any]) -> None:
        fields = {"s": stream_id, "n": self.node_id, "t": kind, "d": json.dumps(data, ensure_ascii=False)}
        try:
            await self.redis.xadd(SPEECH_EVENTS, fields, maxlen=EVENTS_MAXLEN, approximate=True)  # type: ignore[arg-type]
        except REDIS_UNREACHABLE as exc:  # what it heard meanwhile does not reach the ticket
            self._publish_outage.failed(exc)
        else:
            self._publish_outage.ok()

    def status(self) -> dict[str, Any]:
        return {"node": self.node_id, "state": self.state, "audiosocket": self.address, "capacity": self.capacity,
                "legs": len(self.legs), "warm_recognizers": self.engine.idle_recognizers,
                "transcription": self.engine.transcription, "graph": self.engine.graph, **({"error": self.error} if self.error else {})}
