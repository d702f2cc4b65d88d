"""The speech nodes' registry in Redis: what each node advertises, which legs it carries, and
the admission of a new leg onto the node with the most free room.

A node is alive while its heartbeat key exists (`keys.speech_node`, refreshed every third of
its TTL). Its load is the size of its legs hash: the leader adds a leg there (atomically with
the choice, so two legs offered at once cannot both take the last place) before it asks
Asterisk for the spy, and the node removes it when the stream ends.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Literal

from redis.asyncio import Redis

from channels.phone.keys import SPEECH_NODES, speech_node, speech_node_legs
from gateway.redis_values import text

NODE_PREFIX = speech_node("")
LEGS_TTL_MS = 90_000  # a dead node's legs hash outlives it this long; a live node keeps it alive
Outcome = Literal["admitted", "full", "no_node"]


@dataclass(frozen=True)
class NodeInfo:
    node_id: str
    address: str  # host:port Asterisk dials (HOTLINE_AUDIOSOCKET_ADVERTISE)
    capacity: int  # legs it decodes at once without falling behind
    load: int = 0  # legs it is decoding now
    lag: float = 0.0  # its worst decoding lag, seconds
    warm: int = 0  # idle recognizers ready for the next leg
    started_at: float = 0.0
    draining: bool = False  # stopping: takes no new legs, still delivers its legs' last words

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: bytes | str) -> NodeInfo:
        data = json.loads(raw)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class LegAssignment:
    """What a stream carries: the node reads it when Asterisk connects with this UUID."""
    stream_id: str
    linkedid: str
    leg: Literal["caller", "agent"]
    channel: str
    ticket_id: str
    assigned_at: float

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: bytes | str) -> LegAssignment:
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class Admission:
    outcome: Outcome
    node_id: str = ""
    address: str = ""
    free: int = 0  # free places left on the chosen node (or on the best node, when refused)


class SpeechNodes:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    # -- a node's side -----------------------------------------------------------------------

    async def heartbeat(self, info: NodeInfo, ttl_ms: int) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(speech_node(info.node_id), info.dumps(), px=ttl_ms)
            pipe.sadd(SPEECH_NODES, info.node_id)
            pipe.pexpire(speech_node_legs(info.node_id), LEGS_TTL_MS)
            await pipe.execute()

    async def deregister(self, node_id: str) -> None:
        """A node that stopped: gone from the registry."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(speech_node(node_id))
            pipe.srem(SPEECH_NODES, node_id)
            await pipe.execute()

    async def assignment(self, node_id: str, stream_id: str) -> LegAssignment | None:
        raw = await self.redis.hget(speech_node_legs(node_id), stream_id)
        return LegAssignment.loads(raw) if raw is not None else None

    async def assignments(self, node_id: str) -> dict[str, LegAssignment]:
        raw = await self.redis.hgetall(speech_node_legs(node_id))
        return {text(k): LegAssignment.loads(v) for k, v in raw.items()}

    async def release(self, node_id: str, *stream_ids: str) -> None:
        if stream_ids:
            await self.redis.hdel(speech_node_legs(node_id), *stream_ids)

    # -- the leader's side -------------------------------------------------------------------

    async def admit(self, leg: LegAssignment, min_free: int, exclude: str = "") -> Admission:
        """Put `leg` on the live node with the most free places, if it has at least `min_free`."""
        node_id, free, extra = await self.redis.eval(
            _ADMIT_LUA, 1, SPEECH_NODES, NODE_PREFIX, leg.stream_id, leg.dumps(), min_free, LEGS_TTL_MS, exclude)
        node, detail = text(node_id), text(extra)
        if not node:
            return Admission("no_node" if detail == "no_node" else "full", free=int(free))
        return Admission("admitted", node, detail, int(free))

    async def held(self) -> list[tuple[str, LegAssignment]]:
        """Every leg the registered nodes hold, with its node (a new leader looks for orphans)."""
        held: list[tuple[str, LegAssignment]] = []
        for node_id in sorted(text(i) for i in await self.redis.smembers(SPEECH_NODES)):
            held += [(node_id, leg) for leg in (await self.assignments(node_id)).values()]
        return held

    async def live(self) -> list[NodeInfo]:
        ids = sorted(text(i) for i in await self.redis.smembers(SPEECH_NODES))
        if not ids:
            return []
        raw = await self.redis.mget([speech_node(i) for i in ids])
        return [NodeInfo.loads(r) for r in raw if r is not None]

    async def dead(self, node_ids: set[str]) -> set[str]:
        """Which of these nodes' heartbeats have run out."""
        ordered = sorted(node_ids)
        if not ordered:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for node_id in ordered:
                pipe.exists(speech_node(node_id))
            found = await pipe.execute()
        return {n for n, alive in zip(ordered, found) if not alive}


def new_assignment(stream_id: str, linkedid: str, leg: Literal["caller", "agent"], channel: str, ticket_id: str) -> LegAssignment:
    return LegAssignment(stream_id, linkedid, leg, channel, ticket_id, time.time())


# KEYS[1] the node set; ARGV: key prefix, stream id, assignment, min free, legs TTL, node to avoid.
# Returns {node id or '', free places, address or the refusal ('full' | 'no_node')}.
_ADMIT_LUA = """
local best, best_free, best_address = nil, -1, nil
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local raw = redis.call('GET', ARGV[1] .. id)
  if not raw then
    redis.call('SREM', KEYS[1], id)
  elseif id ~= ARGV[6] then
    local info = cjson.decode(raw)
    if info.draining ~= true then
      local free = tonumber(info.capacity) - redis.call('HLEN', ARGV[1] .. id .. ':legs')
      if free > best_free then best, best_free, best_address = id, free, info.address end
    end
  end
end
if not best then return {'', 0, 'no_node'} end
if best_free < tonumber(ARGV[4]) then return {'', math.max(best_free, 0), 'full'} end
local legs = ARGV[1] .. best .. ':legs'
redis.call('HSET', legs, ARGV[2], ARGV[3])
redis.call('PEXPIRE', legs, ARGV[5])
return {best, best_free - 1, best_address}
"""
