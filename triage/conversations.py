"""Conversation state per (channel, user) in Redis, expiring after a quiet period."""
from __future__ import annotations

import json
from dataclasses import asdict

from redis.asyncio import Redis

from gateway import keys
from triage.decision import Conversation

TTL_SECONDS = 30 * 60
MAX_TURNS = 20


def _key(channel: str, user: str) -> str:
    return f"{keys.P}conv:{channel}:{user}"


class Conversations:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def load(self, channel: str, user: str) -> tuple[Conversation, str | None]:
        """The conversation and the ticket it belongs to (None before the first ticket)."""
        raw = await self.redis.get(_key(channel, user))
        if raw is None:
            return Conversation(), None
        data = json.loads(raw)
        return Conversation.from_dict(data["conversation"]), data.get("ticket_id")

    async def save(self, channel: str, user: str, conversation: Conversation, ticket_id: str | None) -> None:
        conversation.turns = conversation.turns[-MAX_TURNS:]
        doc = {"conversation": asdict(conversation), "ticket_id": ticket_id}
        await self.redis.set(_key(channel, user), json.dumps(doc, ensure_ascii=False, default=str), ex=TTL_SECONDS)

    async def close_request(self, channel: str, user: str) -> None:
        """The conversation's current request is settled elsewhere (e.g. continued in a form)."""
        conversation, _ = await self.load(channel, user)
        await self.save(channel, user, conversation.next_request(), None)
