"""Intake: idempotency under concurrency, ids, atomic ticket + stream entry."""
from __future__ import annotations

import asyncio
import re

import aiohttp
from redis.asyncio import Redis

from gateway import keys

FORM = {"kind": "complaint", "description": "楼下餐馆油烟扰民，晚上十点后仍在营业", "district": "海淀区",
        "address": "中关村街道某小区", "phone": "13812345678", "name": "李四"}


async def test_hundred_concurrent_submissions_with_one_key_make_one_ticket(app_url: str, redis_url: str) -> None:
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def submit() -> tuple[int, str]:
            async with http.post(f"{app_url}/api/v1/requests", json=FORM, headers={"Idempotency-Key": "same-key-1"}) as r:
                return r.status, (await r.json())["ticket_id"]

        results = await asyncio.gather(*(submit() for _ in range(100)))
    statuses = [s for s, _ in results]
    assert statuses.count(201) == 1 and statuses.count(200) == 99
    assert len({tid for _, tid in results}) == 1
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.zcard(keys.RECENT_TICKETS) == 1
        entries = await redis.xrange(keys.INTAKE_STREAM)
        assert len(entries) == 1
        assert entries[0][1][b"ticket"].decode() == results[0][1]
    finally:
        await redis.aclose()


async def test_ticket_ids_are_human_readable_and_sequential(app_url: str, http: aiohttp.ClientSession) -> None:
    ids = []
    for i in range(3):
        async with http.post(f"{app_url}/api/v1/requests", json={**FORM, "description": f"第{i}个诉求内容测试"}) as r:
            assert r.status == 201
            ids.append((await r.json())["ticket_id"])
    assert all(re.fullmatch(r"BJ-\d{8}-\d{6}", i) for i in ids)
    assert [int(i[-6:]) for i in ids] == [1, 2, 3]


async def test_stored_ticket_follows_schema_and_keeps_what_the_citizen_sent(app_url: str, redis_url: str, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{app_url}/api/v1/requests", json={**FORM, "confidential": True}) as r:
        ticket_id = (await r.json())["ticket_id"]
    from gateway.tickets import Tickets

    redis = Redis.from_url(redis_url)
    try:
        ticket = await Tickets(redis).get(ticket_id)
    finally:
        await redis.aclose()
    assert ticket.schema_ == "hotline.ticket/v1"
    assert ticket.channel == "web" and ticket.kind == "complaint"
    assert ticket.requester.phone == "+8613812345678" and ticket.requester.confidential is True
    assert ticket.location and ticket.location.district == "海淀区" and ticket.location.district_code == "110108"
    assert ticket.content == FORM["description"]
    assert (ticket.due_at - ticket.received_at).days == 7
    assert ticket.history[0].event == "received"


async def test_ticket_schema_is_served_and_validates_a_ticket(app_url: str, http: aiohttp.ClientSession, redis_url: str) -> None:
    import jsonschema

    async with http.get(f"{app_url}/schema/ticket.v1.json") as r:
        assert r.status == 200
        schema = await r.json(content_type=None)
    async with http.post(f"{app_url}/api/v1/requests", json=FORM) as r:
        ticket_id = (await r.json())["ticket_id"]
    from gateway.tickets import Tickets

    redis = Redis.from_url(redis_url)
    try:
        doc = (await Tickets(redis).get(ticket_id)).public_json()
    finally:
        await redis.aclose()
    jsonschema.validate(doc, schema)
    doc["channel"] = "fax"
    try:
        jsonschema.validate(doc, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("schema accepted an unknown channel")
