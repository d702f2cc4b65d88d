"""The three rates on a data set small enough to count by hand: counters move with each ticket
write (intake, forward, 回访, a correction) and the supervisor route sums them per group."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import aiohttp
from redis.asyncio import Redis

from gateway.tickets import Tickets
from tests.conftest import CASE_SECRET
from tests.server.test_followups import close, post
from tests.support.desk import add_user, login
from tests.support.processes import CaseReceiver
from tests.support.waiting import eventually

TEXTS = {  # four different matters (near-identical ones would be held as 疑似重复)
    "0001": "小区门口的路灯坏了好几天，晚上走路看不清，请尽快派人维修。",
    "0002": "楼下饭馆每天晚上油烟很大，窗户都不敢开，希望有关部门管一管。",
    "0003": "学校门口早晚高峰乱停车严重，孩子上学很危险，建议增加交警执勤。",
    "0004": "我们单位拖欠了三个月工资，老板一直推脱不给，想请劳动部门帮忙。",
}


async def file(http: aiohttp.ClientSession, base: str, district: str, phone: str) -> str:
    status, body = await post(http, f"{base}/api/v1/requests", {"kind": "help", "phone": phone, "district": district, "description": TEXTS[phone[-4:]]})
    assert status == 201, body
    return str(body["ticket_id"])


async def wait_status(redis: Redis, ticket_id: str, status: str) -> Any:
    return await eventually(lambda: Tickets(redis).get(ticket_id), lambda t: t.status == status, timeout=120)


def by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in report["rows"]}


async def test_rates_by_district_channel_and_total_match_a_hand_count(make_app: Any, case_receiver: CaseReceiver,
                                                                      http: aiohttp.ClientSession, redis_url: str) -> None:
    base = await make_app(case_system_url=case_receiver.base, case_system_secret=CASE_SECRET, kb_seed=True, ticket_prefix="RT")
    redis = Redis.from_url(redis_url)
    try:
        a = await file(http, base, "朝阳区", "13800000001")
        b = await file(http, base, "朝阳区", "13800000002")
        c = await file(http, base, "海淀区", "13800000003")
        forwarded = {t: await wait_status(redis, t, "forwarded") for t in (a, b, c)}
        # The case system goes down: the fourth request is not forwarded (no response yet).
        async with http.post(f"{case_receiver.base}/_faults", json={"mode": "503", "count": 100000}) as resp:
            assert resp.status == 200
        d = await file(http, base, "海淀区", "13800000004")
        await eventually(lambda: Tickets(redis).get(d), lambda t: any(x.outcome == "retry" for x in t.deliveries), timeout=60)
        # A consultation the bot answers on the spot (no district), and a chat that settles nothing (not counted).
        chat = await eventually(lambda: post(http, f"{base}/api/v1/chat", {"session_id": "rates-session-01", "text": "居住证怎么办理"}),
                                lambda r: r[1]["decision"] == "answer")
        await post(http, f"{base}/api/v1/chat", {"session_id": "rates-session-02", "text": "你好"})

        await close(http, base, a, forwarded[a].disposition.case_id)
        await close(http, base, b, forwarded[b].disposition.case_id)
        track = f"{base}/api/v1/track/followup"
        assert (await post(http, track, {"ticket_id": a, "phone_last4": "0001", "resolved": False, "satisfaction": "unsatisfied"}))[0] == 200
        assert (await post(http, track, {"ticket_id": b, "phone_last4": "0002", "resolved": True, "satisfaction": "basically_satisfied"}))[0] == 200
        chat_answer = {"ticket_id": chat[1]["ticket_id"], "session_id": "rates-session-01", "resolved": True, "satisfaction": "satisfied"}
        assert (await post(http, f"{base}/api/v1/chat/followup", chat_answer))[0] == 200

        await add_user(redis_url, "chief", "supervisor")
        await add_user(redis_url, "agent7", "agent")
        chief, csrf = await login(base, "chief")
        agent, _ = await login(base, "agent7")
        span = {"from": (date.today() - timedelta(days=1)).isoformat(), "to": (date.today() + timedelta(days=1)).isoformat()}

        async def rates(by: str) -> dict[str, Any]:
            async with chief.get(f"{base}/api/v1/supervisor/rates", params={**span, "by": by}) as resp:
                assert resp.status == 200, await resp.text()
                return dict(await resp.json())

        async with agent, chief:
            async with agent.get(f"{base}/api/v1/supervisor/rates", params=span) as resp:
                assert resp.status == 403  # supervisors only
            total = (await rates("total"))["total"]
            # 5 requests (a, b, c, d, the answered chat); 4 responded in time (d is not forwarded);
            # 3 回访: 2 resolved; 满意 1 + 基本满意 1 of 3.
            assert {k: total[k] for k in ("received", "responded", "responded_on_time", "closed", "followups", "resolved",
                                          "satisfied", "basically_satisfied", "unsatisfied")} == {
                "received": 5, "responded": 4, "responded_on_time": 4, "closed": 2, "followups": 3, "resolved": 2,
                "satisfied": 1, "basically_satisfied": 1, "unsatisfied": 1}
            assert (total["response_rate"], total["resolution_rate"], total["satisfaction_rate"]) == (0.8, 0.6667, 0.6667)

            districts = by_key(await rates("district"))
            assert {k: (r["received"], r["responded_on_time"], r["followups"], r["resolution_rate"], r["satisfaction_rate"])
                    for k, r in districts.items()} == {
                "朝阳区": (2, 2, 2, 0.5, 0.5), "海淀区": (2, 1, 0, None, None), "未知": (1, 1, 1, 1.0, 1.0)}
            channels = by_key(await rates("channel"))
            assert list(channels) == ["web"] and channels["web"]["label"] == "网站" and channels["web"]["received"] == 5
            topics = await rates("topic")
            assert sum(r["received"] for r in topics["rows"]) == 5 and len(topics["rows"]) >= 3

            # An agent corrects d's district: its counts move, nothing is counted twice.
            async with chief.patch(f"{base}/api/v1/agent/tickets/{d}", json={"location": {"district": "朝阳区"}},
                                   headers={"X-CSRF-Token": csrf}) as resp:
                assert resp.status == 200, await resp.text()
            districts = by_key(await rates("district"))
            assert (districts["朝阳区"]["received"], districts["朝阳区"]["responded_on_time"]) == (3, 2)
            assert (districts["海淀区"]["received"], districts["海淀区"]["response_rate"]) == (1, 1.0)
            assert (await rates("total"))["total"]["received"] == 5

            async with chief.get(f"{base}/api/v1/supervisor/rates", params={**span, "by": "district", "format": "csv"}) as resp:
                assert resp.status == 200 and resp.content_type == "text/csv"
                lines = (await resp.text(encoding="utf-8")).lstrip("\ufeff").splitlines()
            assert lines[0].startswith("分组,受理数,已响应,按时响应") and "响应率" in lines[0]
            assert lines[-1].startswith("合计,5,4,4,2,")
            async with chief.get(f"{base}/api/v1/supervisor/rates", params={**span, "by": "street"}) as resp:
                body = await resp.json()
                assert (resp.status, body["error"], body["fields"][0]["code"]) == (422, "validation_failed", "invalid_group")
            async with chief.get(f"{base}/api/v1/supervisor/rates", params={"from": "2026-01-01", "to": "2026-12-31"}) as resp:
                assert (await resp.json())["fields"][0]["code"] == "range_too_long"
    finally:
        await redis.aclose()
