"""Cluster-ready keys: whatever the gateway writes lands in one Redis Cluster slot (the `{hl}` hash
tag), so every Lua script and transaction stays within a slot."""
from __future__ import annotations

import aiohttp
from redis.asyncio import Redis
from redis.crc import key_slot

from gateway import keys
from tests.support.desk import add_user, login
from tests.support.waiting import eventually

FORM = {"description": "小区门口的路灯坏了好几天，晚上很黑", "phone": "13611115555"}


async def test_every_key_written_by_the_main_paths_is_in_one_slot(make_app, redis_url: str, http: aiohttp.ClientSession) -> None:
    base = await make_app(kb_seed=True)
    async with http.post(f"{base}/api/v1/requests", json=FORM) as r:
        assert r.status == 201, await r.text()
        ticket_id = (await r.json())["ticket_id"]
    async with http.post(f"{base}/api/v1/chat", json={"session_id": "slot-test", "text": "怎么办理居住证"}) as r:
        assert r.status == 200, await r.text()
    await add_user(redis_url, "agent1", "agent")
    desk, _ = await login(base, "agent1")
    await desk.close()
    async with http.post(f"{base}/api/v1/auth/login", json={"username": "agent1", "password": "wrong-password-1"}) as r:
        assert r.status == 401

    redis = Redis.from_url(redis_url)
    try:
        # The form's ticket went through router and outbox to the built-in inbox: their keys exist.
        await eventually(lambda: redis.hexists(keys.LOCAL_INBOX, f"{ticket_id}:case"), bool)
        names = [name async for name in redis.scan_iter(count=1000)]
    finally:
        await redis.aclose()
    assert len(names) > 10
    assert {name for name in names if key_slot(name) != key_slot(keys.ticket(ticket_id).encode())} == set()
