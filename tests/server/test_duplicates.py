"""疑似重复: right after intake a request is compared with the recent open ones; a duplicate is
held (not forwarded), shown with its candidates, and 合并 attaches it to the primary's case with
a signed `related` notice instead of a second forward (the case receiver counts both). A forged or
mismatched merge is refused, and /track of the secondary shows the primary's progress."""
from __future__ import annotations

from typing import Any

import aiohttp
from redis.asyncio import Redis

from gateway.tickets import Tickets
from tests.conftest import CASE_SECRET
from tests.server.test_followups import close, post
from tests.support.desk import add_user, login
from tests.support.processes import CaseReceiver
from tests.support.waiting import eventually

LAMP = "朝阳区望京西园三区东门外的路灯坏了一个多星期，晚上一片漆黑，老人孩子出行很不安全，请尽快维修。"
AGAIN = "朝阳区望京西园三区东门外的路灯坏了一个多星期了，晚上一片漆黑，老人孩子出行很不安全，麻烦尽快维修！"
OTHER = "海淀区学院路附近有商户占道经营，早上堆放大量货物，行人只能走机动车道，请城管部门处理。"


async def file(http: aiohttp.ClientSession, base: str, text: str, phone: str, district: str = "朝阳区") -> str:
    status, body = await post(http, f"{base}/api/v1/requests", {"kind": "help", "phone": phone, "district": district, "description": text})
    assert status == 201, body
    return str(body["ticket_id"])


async def settled(redis: Redis, ticket_id: str) -> Any:
    """The ticket once the router decided: forwarded, or held as a duplicate."""
    return await eventually(lambda: Tickets(redis).get(ticket_id),
                            lambda t: t.status == "forwarded" or any(e.event == "held_as_duplicate" for e in t.history), timeout=120)


async def stats(http: aiohttp.ClientSession, receiver: CaseReceiver) -> dict[str, Any]:
    async with http.get(f"{receiver.base}/_stats") as resp:
        return dict(await resp.json())


async def test_a_resubmission_is_held_merged_and_never_forwarded_twice(make_app: Any, case_receiver: CaseReceiver,
                                                                       http: aiohttp.ClientSession, redis_url: str) -> None:
    base = await make_app(case_system_url=case_receiver.base, case_system_secret=CASE_SECRET, ticket_prefix="DP")
    redis = Redis.from_url(redis_url)
    await add_user(redis_url, "agent7", "agent")
    agent, csrf = await login(base, "agent7")
    try:
        primary = await file(http, base, LAMP, "13812345678")
        first = await settled(redis, primary)
        assert first.status == "forwarded" and first.links.duplicates == []
        secondary = await file(http, base, AGAIN, "13812345678")
        other = await file(http, base, OTHER, "13812345678", "海淀区")  # same person, another matter
        held = await settled(redis, secondary)
        assert held.status == "received" and held.disposition is None
        assert [(c.ticket_id, c.reason) for c in held.links.duplicates] == [(primary, "same_requester")]
        assert held.links.duplicates[0].score >= 0.8
        assert (await settled(redis, other)).status == "forwarded"

        async with agent:
            async with agent.get(f"{base}/api/v1/agent/tickets/{secondary}/duplicates") as resp:
                view = await resp.json()
            assert view["ticket"]["content"] == AGAIN and view["candidates"][0]["ticket"]["content"] == LAMP
            assert view["candidates"][0]["ticket"]["phone_masked"] != "+8613812345678"

            url = f"{base}/api/v1/agent/tickets/{secondary}/merge"
            refusals = [
                ({"into": other}, 409, "not_a_duplicate_candidate"),  # a real ticket, but not a candidate: forged
                ({"into": "DP-20200101-000999"}, 404, "primary_not_found"),
                ({"into": secondary}, 422, "validation_failed"),
                ({"into": "not-an-id"}, 422, "validation_failed"),
            ]
            for body, status, code in refusals:
                async with agent.post(url, json=body, headers={"X-CSRF-Token": csrf}) as resp:
                    answer = await resp.json()
                    assert (resp.status, answer["error"]) == (status, code), answer
                    assert answer["message"]
            async with agent.post(f"{base}/api/v1/agent/tickets/{other}/merge", json={"into": primary}, headers={"X-CSRF-Token": csrf}) as resp:
                assert (resp.status, (await resp.json())["error"]) == (409, "not_a_duplicate_candidate")  # mismatched pair

            async with agent.post(url, json={"into": primary}, headers={"X-CSRF-Token": csrf}) as resp:
                assert resp.status == 200, await resp.text()
                merged = await resp.json()
            assert merged["status"] == "merged" and merged["disposition"] == {**merged["disposition"], "type": "merged", "into": primary}
            async with agent.post(url, json={"into": primary}, headers={"X-CSRF-Token": csrf}) as resp:
                assert (resp.status, (await resp.json())["error"]) == (409, "already_merged")
            async with agent.post(f"{base}/api/v1/agent/tickets/{secondary}/forward", headers={"X-CSRF-Token": csrf}) as resp:
                assert (resp.status, (await resp.json())["error"]) == (409, "already_forwarded")

        delivered = await eventually(lambda: Tickets(redis).get(secondary),
                                     lambda t: any(d.hop == "related" and d.outcome == "delivered" for d in t.deliveries), timeout=60)
        assert [d.case_id for d in delivered.deliveries if d.hop == "related"] == [first.disposition.case_id]
        seen = await stats(http, case_receiver)
        assert f"{secondary}:case" not in seen["requests_per_key"]  # never forwarded as a case of its own
        assert seen["requests_per_key"][f"{primary}:case"] == 1 and seen["requests_per_key"][f"{secondary}:related"] == 1
        notice = seen["related"][f"{secondary}:related"]
        assert (notice["related_to"], notice["case_id"], notice["relation"], notice["ticket"]["id"]) == (
            primary, first.disposition.case_id, "duplicate", secondary)
        assert secondary in (await Tickets(redis).get(primary)).links.related

        # The secondary's citizen follows the primary's case on /track.
        await close(http, base, primary, first.disposition.case_id)
        async with http.get(f"{base}/api/v1/track", params={"ticket_id": secondary, "phone_last4": "5678"}) as resp:
            public = await resp.json()
        assert (public["ticket_id"], public["merged_into"], public["status_label"]) == (secondary, primary, "已办结")
        assert public["result"]["text"] and "合并至工单" in str(public["timeline"])
        assert "13812345678" not in str(public)
    finally:
        await redis.aclose()


async def test_the_same_place_and_topic_from_another_citizen_is_a_candidate(make_app: Any, http: aiohttp.ClientSession,
                                                                            redis_url: str) -> None:
    base = await make_app(ticket_prefix="DQ")
    redis = Redis.from_url(redis_url)
    try:
        first = await file(http, base, LAMP, "13900000001")
        assert (await settled(redis, first)).status == "forwarded"
        neighbour = await settled(redis, await file(http, base, AGAIN, "13900000002"))
        assert [(c.ticket_id, c.reason) for c in neighbour.links.duplicates] == [(first, "same_place_topic")]
        elsewhere = await settled(redis, await file(http, base, AGAIN, "13900000003", "海淀区"))  # same words, another district
        assert elsewhere.status == "forwarded" and elsewhere.links.duplicates == []
    finally:
        await redis.aclose()
