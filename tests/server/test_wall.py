"""The supervisor wall's data and the 热点 loop, through the real app and the real router:
volumes, outcomes and deadlines on a known set of requests; CSV tables; supervisors only; a 热点
raised by five citizens about one street's water, its notice answered by the bot at once, and
its closing."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from redis.asyncio import Redis

from gateway.tickets import Tickets
from tests.conftest import CASE_SECRET
from tests.server.test_duplicates import settled
from tests.server.test_followups import post
from tests.support.case_system import report
from tests.support.desk import add_user, login
from tests.support.processes import CaseReceiver
from tests.support.waiting import eventually

LAMP = "朝阳区望京西园三区东门外的路灯坏了一个多星期，晚上一片漆黑，老人孩子出行很不安全，请尽快维修。"
NOISE = "海淀区学院路一家KTV每天夜里两点还在大声放音乐，吵得整栋楼的居民睡不着觉，请执法部门管一管。"
PARKING = "丰台区方庄芳古园一区小区门口长期有车辆乱停乱放，消防通道被堵死，多次反映物业不管。"
WATER = [  # five citizens, one street, one matter
    "朝阳区望京街道花家地小区从早上开始停水了，到现在也没来水，家里老人做饭都成问题。",
    "望京街道南湖东园停水一上午了，物业说不清楚原因，请尽快恢复供水。",
    "我家在朝阳区望京街道，今天突然停水，没有任何通知，希望有关部门查一下。",
    "朝阳望京街道宏昌小区停水好几个小时了，请自来水公司赶紧抢修。",
    "望京街道利泽西园家里水龙头一滴水都没有了，洗漱都没法进行，请帮忙协调尽快来水。",
]


async def _file(http: aiohttp.ClientSession, base: str, text: str, phone: str, district: str, kind: str = "complaint") -> str:
    status, body = await post(http, f"{base}/api/v1/requests", {"kind": kind, "phone": phone, "district": district, "description": text})
    assert status == 201, body
    return str(body["ticket_id"])


async def _forwarded(redis: Redis, ticket_id: str) -> Any:
    return await eventually(lambda: Tickets(redis).get(ticket_id), lambda t: t.status == "forwarded", timeout=120)


async def _wall(session: aiohttp.ClientSession, base: str, query: str = "") -> dict[str, Any]:
    async with session.get(f"{base}/api/v1/supervisor/wall{query}") as resp:
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["key"]: row["count"] for row in rows}


async def _postpone(http: aiohttp.ClientSession, base: str, ticket: Any, at: datetime, due: datetime) -> None:
    status, body = await report(http, base, CASE_SECRET, {
        "update_id": f"EVT-P-{ticket.id}", "ticket_id": ticket.id, "case_id": ticket.disposition.case_id, "status": "postponed",
        "at": at.replace(microsecond=0).isoformat(), "due_at": due.replace(microsecond=0).isoformat(), "reason": "需协调多个部门现场勘查"})
    assert (status, body["outcome"]) == (200, "applied"), body


async def test_the_wall_counts_a_known_day_and_lists_deadlines(make_app: Any, case_receiver: CaseReceiver,
                                                               http: aiohttp.ClientSession, redis_url: str) -> None:
    base = await make_app(case_system_url=case_receiver.base, case_system_secret=CASE_SECRET, ticket_prefix="WL")
    redis = Redis.from_url(redis_url)
    await add_user(redis_url, "boss", "supervisor")
    await add_user(redis_url, "agent3", "agent")
    boss, _ = await login(base, "boss")
    agent, _ = await login(base, "agent3")
    try:
        filed = [await _file(http, base, LAMP, "13800000101", "朝阳区"),
                 await _file(http, base, NOISE, "13800000102", "海淀区"),
                 await _file(http, base, PARKING, "13800000103", "丰台区", kind="report")]
        tickets = [await _forwarded(redis, t) for t in filed]
        now = datetime.now().astimezone()
        await _postpone(http, base, tickets[0], now - timedelta(hours=3), now - timedelta(hours=1))  # overdue
        await _postpone(http, base, tickets[1], now - timedelta(minutes=10), now + timedelta(hours=1))  # due within 2 h

        async with boss:
            wall = await _wall(boss, base)
            assert wall["volume"]["total"] == 3
            assert _counts(wall["volume"]["by_district"]) == {"朝阳区": 1, "海淀区": 1, "丰台区": 1}
            assert _counts(wall["volume"]["by_channel"]) == {"web": 3}
            assert sum(r["count"] for r in wall["volume"]["by_hour"]) == 3
            assert sum(r["count"] for r in wall["volume"]["by_kind"]) == 3
            assert wall["outcomes"]["forwarded"] == 3 and wall["outcomes"]["forward_share"] == 1.0
            assert wall["outcomes"]["direct_answer_rate"] == 0.0
            assert wall["rates"]["received"] == 3 and wall["rates"]["response_rate"] == 1.0
            deadlines = wall["deadlines"]
            assert (deadlines["overdue_count"], deadlines["due_soon_count"]) == (1, 1)
            assert [r["ticket_id"] for r in deadlines["overdue"]] == [filed[0]]
            # The row shows the deadline it is listed by: the case system's after the 延期.
            assert datetime.fromisoformat(deadlines["overdue"][0]["due_at"]) == (now - timedelta(hours=1)).replace(microsecond=0)
            assert [r["ticket_id"] for r in deadlines["due_soon"]] == [filed[1]]
            assert deadlines["awaiting_response"] == 0  # all three were forwarded

            async with boss.get(f"{base}/api/v1/supervisor/wall.csv?table=district") as resp:
                assert resp.status == 200 and resp.content_type == "text/csv"
                rows = list(csv.reader(io.StringIO((await resp.text()).lstrip("\ufeff"))))
            assert rows[0] == ["区", "受理数"] and sorted(rows[1:]) == [["丰台区", "1"], ["朝阳区", "1"], ["海淀区", "1"]]
            async with boss.get(f"{base}/api/v1/supervisor/wall.csv?table=deadlines") as resp:
                rows = list(csv.reader(io.StringIO((await resp.text()).lstrip("\ufeff"))))
            assert [(r[0], r[1]) for r in rows[1:]] == [(filed[0], "已超期"), (filed[1], "2小时内到期")]
            async with boss.get(f"{base}/api/v1/supervisor/wall.csv?table=everything") as resp:
                assert (resp.status, (await resp.json())["error"]) == (422, "validation_failed")
            async with boss.get(f"{base}/api/v1/supervisor/wall?from=2026-13-01") as resp:
                assert resp.status == 422

        async with agent:
            async with agent.get(f"{base}/api/v1/supervisor/wall") as resp:
                assert resp.status == 403
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(f"{base}/api/v1/supervisor/wall") as resp:
                assert resp.status == 401
    finally:
        await redis.aclose()


async def test_an_open_desk_counts_as_online_and_a_new_request_tells_the_wall(make_app: Any, http: aiohttp.ClientSession, redis_url: str) -> None:
    base = await make_app(ticket_prefix="WO")
    await add_user(redis_url, "boss2", "supervisor")
    await add_user(redis_url, "agent4", "agent")
    boss, _ = await login(base, "boss2")
    agent, _ = await login(base, "agent4")
    ws_base = base.replace("http", "ws")
    async with boss, agent:
        assert (await _wall(boss, base))["agents_online"] == 0
        # The wall's own socket (watch=wall) opens first and is no desk online; the agent's is.
        async with boss.ws_connect(f"{ws_base}/api/v1/agent/ws?watch=wall") as ws, agent.ws_connect(f"{ws_base}/api/v1/agent/ws"):
            await eventually(lambda: _wall(boss, base), lambda w: w["agents_online"] >= 1, timeout=30)
            assert (await _wall(boss, base))["agents_online"] == 1
            await _file(http, base, LAMP, "13800000201", "朝阳区")
            while True:
                message = json.loads((await ws.receive(timeout=30)).data)
                if message["type"] == "wall.changed":
                    break
            assert (await _wall(boss, base))["volume"]["total"] == 1


async def test_five_citizens_raise_a_hotspot_whose_notice_the_bot_answers_with(
        make_app: Any, case_receiver: CaseReceiver, http: aiohttp.ClientSession, redis_url: str) -> None:
    base = await make_app(case_system_url=case_receiver.base, case_system_secret=CASE_SECRET, ticket_prefix="HT", kb_seed=True)
    redis = Redis.from_url(redis_url)
    await add_user(redis_url, "boss3", "supervisor")
    boss, csrf = await login(base, "boss3")
    headers = {"X-CSRF-Token": csrf}
    try:
        async with boss:
            async with boss.ws_connect(f"{base.replace('http', 'ws')}/api/v1/agent/ws") as ws:
                filed = []
                for n, text in enumerate(WATER[:4]):
                    filed.append(await _file(http, base, text, f"1390000030{n}", "朝阳区"))
                for ticket_id in filed:
                    await settled(redis, ticket_id)  # counted: the router observes before it forwards or holds
                async with boss.get(f"{base}/api/v1/supervisor/hotspots") as resp:
                    assert (await resp.json())["hotspots"] == []  # four citizens: not yet
                filed.append(await _file(http, base, WATER[4], "13900000309", "朝阳区"))
                while True:
                    message = json.loads((await ws.receive(timeout=120)).data)
                    if message["type"] == "hotspot.raised":
                        break
            hotspot_id = message["hotspot_id"]
            async with boss.get(f"{base}/api/v1/supervisor/hotspots/{hotspot_id}") as resp:
                hotspot = await resp.json()
            assert (hotspot["street"], hotspot["district"], hotspot["state"]) == ("望京街道", "朝阳区", "open")
            assert sorted(hotspot["ticket_ids"]) == sorted(filed) and sum(hotspot["trend"]) == 5
            assert [h["id"] for h in (await _wall(boss, base))["hotspots"]] == [hotspot_id]

            notice = "望京街道因主管线抢修临时停水，预计今天18时恢复供水，请居民提前储水。"
            url = f"{base}/api/v1/supervisor/hotspots/{hotspot_id}/notice"
            async with boss.post(url, json={"text": "短"}, headers=headers) as resp:
                assert resp.status == 422
            async with boss.post(url, json={"text": notice, "expires_at": "2020-01-01"}, headers=headers) as resp:
                assert (resp.status, (await resp.json())["fields"][0]["code"]) == (422, "expires_not_after_today")
            async with boss.post(url, json={"text": notice}, headers=headers) as resp:
                assert resp.status == 201, await resp.text()
                entry_id = (await resp.json())["notice"]["entry_id"]

            async def asked() -> dict[str, Any]:
                return (await post(http, f"{base}/api/v1/chat", {"session_id": "hotspot-citizen-01", "text": "望京街道停水了什么时候恢复供水？"}))[1]
            answer = await eventually(asked, lambda a: notice in json.dumps(a, ensure_ascii=False), timeout=30)
            assert entry_id in json.dumps(answer, ensure_ascii=False)

            async with boss.post(f"{base}/api/v1/supervisor/hotspots/{hotspot_id}/close", headers=headers) as resp:
                assert resp.status == 200 and (await resp.json())["state"] == "closed"
            async with boss.post(f"{base}/api/v1/supervisor/hotspots/{hotspot_id}/close", headers=headers) as resp:
                assert (resp.status, (await resp.json())["error"]) == (409, "hotspot_closed")
            async with boss.post(url, json={"text": notice}, headers=headers) as resp:
                assert (resp.status, (await resp.json())["error"]) == (409, "hotspot_closed")
            # A sixth citizen after the close starts a new count: no new 热点 from one request.
            sixth = await _file(http, base, "望京街道阜通东大街附近小区也停水了，请尽快处理。", "13900000399", "朝阳区")
            await settled(redis, sixth)
            async with boss.get(f"{base}/api/v1/supervisor/hotspots") as resp:
                assert [(h["id"], h["state"]) for h in (await resp.json())["hotspots"]] == [(hotspot_id, "closed")]
    finally:
        await redis.aclose()
