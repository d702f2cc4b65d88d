"""Video sessions, the queue and the chat in Redis, so any gateway instance can list, chat and
end; only the media lives in the instance named on the session (`instance`).

A session goes starting → queued → connected → ended. Admission to `starting` is one Lua step
that also drops sessions whose instance stopped refreshing their `alive` key, so a crashed
instance's sessions stop counting against the limit."""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from channels.video import keys
from gateway.keys import P
from gateway.redis_values import text

ALIVE_TTL_SECONDS = 20  # the owner refreshes every ALIVE_TTL_SECONDS / 4
CHAT_MAX_MESSAGES = 500

_ADMIT_LUA = """
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', ARGV[5] .. 'video:s:' .. sid .. ':alive') == 0 then
    redis.call('ZREM', KEYS[1], sid)
    redis.call('ZREM', KEYS[2], sid)
    redis.call('HSET', ARGV[5] .. 'video:s:' .. sid, 'status', 'ended', 'end_reason', 'lost')
  end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], unpack(cjson.decode(ARGV[4])))
redis.call('EXPIRE', KEYS[3], 86400)
redis.call('SET', KEYS[4], '1', 'EX', ARGV[6])
return 1
"""

_ACCEPT_LUA = """
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'connected', 'agent', ARGV[1], 'agent_name', ARGV[2], 'accepted_ms', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
return 1
"""

_REQUEUE_LUA = """
if redis.call('HGET', KEYS[1], 'status') ~= 'connected' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'agent', '', 'agent_name', '')
redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[1], 'queued_ms'), ARGV[1])
return 1
"""

_END_LUA = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'ended' then return '' end
redis.call('HSET', KEYS[1], 'status', 'ended', 'end_reason', ARGV[1], 'ended_by', ARGV[2], 'ended_ms', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('DEL', KEYS[4])
return status
"""


# Why a session ended, as the citizen and the agent are told.
END_MESSAGES = {
    "citizen": "您已结束本次视频通话，诉求已记录在工单中。",
    "agent": "坐席已结束本次视频通话，诉求已记录在工单中。",
    "citizen_left": "市民已离开页面，通话已结束。",
    "disconnected": "视频连接已中断，本次通话已结束，已记录的内容保存在工单中。",
    "agent_disconnected": "坐席的视频连接已中断，本次通话已结束。如需继续，请重新申请视频服务。",
    "media_timeout": "长时间未收到视频画面，本次通话已结束，已记录的内容保存在工单中。",
    "max_duration": "本次视频通话已达到最长时长，通话已结束，诉求已记录在工单中。",
    "callback": "已为您登记回访，坐席空闲后将与您联系。",
    "shutdown": "服务正在维护，本次通话已结束，已记录的内容保存在工单中。",
    "lost": "视频服务中断，本次通话已结束。",
}


@dataclass(frozen=True)
class VideoSession:
    id: str
    status: str  # starting | queued | connected | ended
    instance: str
    token_sha: str
    ticket_id: str
    created_ms: int
    queued_ms: int
    accepted_ms: int
    agent: str
    agent_name: str
    end_reason: str
    ended_by: str
    ended_ms: int

    @classmethod
    def from_hash(cls, session_id: str, raw: Mapping[bytes | str, bytes | str]) -> "VideoSession":
        f = {text(k): text(v) for k, v in raw.items()}
        num = lambda name: int(f.get(name) or 0)  # noqa: E731
        return cls(session_id, f.get("status", "ended"), f.get("instance", ""), f.get("token_sha", ""), f.get("ticket_id", ""),
                   num("created_ms"), num("queued_ms"), num("accepted_ms"), f.get("agent", ""), f.get("agent_name", ""),
                   f.get("end_reason", ""), f.get("ended_by", ""), num("ended_ms"))

    def public(self, position: int | None = None) -> dict[str, Any]:
        """What desks and the citizen's page see (no token hash)."""
        return {"session_id": self.id, "status": self.status, "ticket_id": self.ticket_id or None,
                "queued_at_ms": self.queued_ms or None, "accepted_at_ms": self.accepted_ms or None,
                "agent": self.agent or None, "agent_name": self.agent_name or None, "position": position,
                "end_reason": self.end_reason or None}

    def ended_event(self) -> dict[str, Any]:
        """What the citizen's page is told when the session has ended: published once it ends,
        and sent again by the page's event pump if it sees the ended session first."""
        return {"type": "ended", "reason": self.end_reason, "message": END_MESSAGES.get(self.end_reason, "本次视频通话已结束。"),
                "ticket_id": self.ticket_id}


def now_ms() -> int:
    return int(time.time() * 1000)


class Sessions:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._admit = redis.register_script(_ADMIT_LUA)
        self._accept = redis.register_script(_ACCEPT_LUA)
        self._requeue = redis.register_script(_REQUEUE_LUA)
        self._end = redis.register_script(_END_LUA)

    async def admit(self, session_id: str, instance: str, token_sha: str, limit: int) -> bool:
        """Reserve one of `limit` concurrent sessions (all instances together)."""
        now = now_ms()
        fields = ["status", "starting", "instance", instance, "token_sha", token_sha, "created_ms", str(now)]
        return bool(await self._admit(keys=[keys.ACTIVE, keys.QUEUE, keys.session(session_id), keys.alive(session_id)],
                                      args=[limit, now, session_id, json.dumps(fields), P, ALIVE_TTL_SECONDS]))

    async def enqueue(self, session_id: str, ticket_id: str) -> int:
        """Starting → queued, once the ticket exists and the media answer is ready; returns the place (1-based)."""
        now = now_ms()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.session(session_id), mapping={"status": "queued", "ticket_id": ticket_id, "queued_ms": str(now)})
            pipe.zadd(keys.QUEUE, {session_id: now})
            pipe.zrank(keys.QUEUE, session_id)
            *_, rank = await pipe.execute()
        return int(rank) + 1

    async def get(self, session_id: str) -> VideoSession | None:
        raw = await self.redis.hgetall(keys.session(session_id))
        return VideoSession.from_hash(session_id, raw) if raw else None

    async def position(self, session_id: str) -> int | None:
        rank = await self.redis.zrank(keys.QUEUE, session_id)
        assert rank is None or isinstance(rank, int)  # a list only with withscore=True
        return None if rank is None else rank + 1

    async def waiting(self) -> list[VideoSession]:
        ids = [text(i) for i in await self.redis.zrange(keys.QUEUE, 0, -1)]
        found = [await self.get(i) for i in ids]
        return [s for s in found if s is not None and s.status == "queued"]

    async def connected_to(self, agent: str | None) -> list[VideoSession]:
        """Connected sessions of `agent` (all of them for None)."""
        ids = [text(i) for i in await self.redis.zrange(keys.ACTIVE, 0, -1)]
        found = [await self.get(i) for i in ids]
        return [s for s in found if s is not None and s.status == "connected" and (agent is None or s.agent == agent)]

    async def active_count(self) -> int:
        return int(await self.redis.zcard(keys.ACTIVE))

    async def claim(self, session_id: str, agent: str, agent_name: str) -> bool:
        return bool(await self._accept(keys=[keys.session(session_id), keys.QUEUE], args=[agent, agent_name, now_ms(), session_id]))

    async def requeue(self, session_id: str) -> bool:
        """Undo a claim whose media could not be set up: the citizen keeps their place."""
        return bool(await self._requeue(keys=[keys.session(session_id), keys.QUEUE], args=[session_id]))

    async def decline(self, session_id: str, agent: str) -> None:
        await self.redis.sadd(keys.declined(session_id), agent)
        await self.redis.expire(keys.declined(session_id), 86400)

    async def declined_by(self, session_id: str) -> set[str]:
        return {text(m) for m in await self.redis.smembers(keys.declined(session_id))}

    async def end(self, session_id: str, reason: str, by: str) -> str:
        """Mark ended once; returns the status it had ('' if it had already ended)."""
        prior = await self._end(keys=[keys.session(session_id), keys.QUEUE, keys.ACTIVE, keys.alive(session_id)],
                                args=[reason, by, now_ms(), session_id])
        return text(prior) if prior else ""

    async def release(self, session_id: str) -> None:
        """A session that never got started (bad offer, rate limit): leaves no trace."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(keys.ACTIVE, session_id)
            pipe.zrem(keys.QUEUE, session_id)
            pipe.delete(keys.session(session_id), keys.alive(session_id))
            await pipe.execute()

    async def keep_alive(self, session_ids: list[str]) -> None:
        if not session_ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in session_ids:
                pipe.set(keys.alive(sid), "1", ex=ALIVE_TTL_SECONDS)
            await pipe.execute()

    async def add_chat(self, session_id: str, message: dict[str, Any]) -> bool:
        """Append a chat line; False once the session has its maximum of lines."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(keys.chat(session_id), json.dumps(message, ensure_ascii=False))
            pipe.expire(keys.chat(session_id), 86400)
            length, _ = await pipe.execute()
        if length > CHAT_MAX_MESSAGES:
            await self.redis.rpop(keys.chat(session_id))
            return False
        return True

    async def chat(self, session_id: str) -> list[dict[str, Any]]:
        return [json.loads(m) for m in await self.redis.lrange(keys.chat(session_id), 0, -1)]

    async def tell_citizen(self, session_id: str, event: dict[str, Any]) -> None:
        await self.redis.publish(keys.events(session_id), json.dumps(event, ensure_ascii=False))
