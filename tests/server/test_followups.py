"""回访: the citizen answers 是否解决 and 满意 / 基本满意 / 不满意 once per ticket, after the
chat's on-the-spot answer (authorised by the chat session) and on /track after 办结 (authorised
like /track). Someone else's session or phone digits cannot answer; a second answer is refused."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import aiohttp
from redis.asyncio import Redis

from gateway.tickets import Tickets
from tests.conftest import CASE_SECRET
from tests.support.case_system import file_and_forward, report
from tests.support.processes import CaseReceiver
from tests.support.waiting import eventually

UNIT = "朝阳区望京街道办事处"
RESULT = "经核实，东门外路灯因线路老化损坏，已更换线路和灯具，恢复照明。"


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with http.post(url, json=body) as resp:
        return resp.status, await resp.json()


async def stored(redis_url: str, ticket_id: str) -> Any:
    redis = Redis.from_url(redis_url)
    try:
        return await Tickets(redis).get(ticket_id)
    finally:
        await redis.aclose()


async def close(http: aiohttp.ClientSession, base: str, ticket_id: str, case_id: str) -> None:
    at = (datetime.now().astimezone() - timedelta(minutes=5)).replace(microsecond=0).isoformat()
    status, body = await report(http, base, CASE_SECRET, {"update_id": f"EVT-{ticket_id}", "ticket_id": ticket_id, "case_id": case_id,
                                                         "status": "closed", "at": at, "unit": UNIT, "result": RESULT})
    assert (status, body["outcome"]) == (200, "applied"), body


async def test_the_chat_answer_is_rated_once_by_its_own_session(make_app: Any, http: aiohttp.ClientSession, redis_url: str) -> None:
    base = await make_app(kb_seed=True)
    session = "followup-session-0001"

    async def ask() -> dict[str, Any]:
        return (await post(http, f"{base}/api/v1/chat", {"session_id": session, "text": "居住证怎么办理"}))[1]

    reply = await eventually(ask, lambda r: r["decision"] == "answer", timeout=30)
    assert reply["followup"]["ticket_id"] == reply["ticket_id"] and reply["followup"]["question"]
    ticket_id = reply["ticket_id"]
    url = f"{base}/api/v1/chat/followup"
    answer = {"ticket_id": ticket_id, "resolved": True, "satisfaction": "basically_satisfied", "reason": "材料清单很清楚"}

    # Another page's session cannot answer for this conversation; nothing is stored.
    status, body = await post(http, url, {**answer, "session_id": "someone-elses-session"})
    assert (status, body["error"]) == (404, "not_found") and body["message"]
    status, body = await post(http, url, {**answer, "session_id": session, "satisfaction": "great"})
    assert (status, body["error"], [f["field"] for f in body["fields"]]) == (422, "validation_failed", ["satisfaction"])
    assert (await stored(redis_url, ticket_id)).followup is None

    status, body = await post(http, url, {**answer, "session_id": session})
    assert status == 200, body
    assert body["followup"]["satisfaction"] == "basically_satisfied" and body["followup"]["channel"] == "web-chat"
    status, body = await post(http, url, {**answer, "session_id": session, "satisfaction": "unsatisfied"})
    assert (status, body["error"]) == (409, "followup_already_answered") and "只能评价一次" in body["message"]

    ticket = await stored(redis_url, ticket_id)
    assert ticket.followup.resolved is True and ticket.followup.satisfaction == "basically_satisfied"
    assert ticket.followup.reason == "材料清单很清楚" and ticket.followup.by == "citizen"
    assert [e.event for e in ticket.history].count("followup_answered") == 1


async def test_track_offers_the_followup_after_closing_and_takes_it_once(make_app: Any, case_receiver: CaseReceiver,
                                                                         http: aiohttp.ClientSession, redis_url: str) -> None:
    base = await make_app(case_system_url=case_receiver.base, case_system_secret=CASE_SECRET, ticket_prefix="FU")
    ticket_id, case_id = await file_and_forward(http, base, redis_url)
    url = f"{base}/api/v1/track/followup"
    answer = {"ticket_id": ticket_id, "phone_last4": "5678", "resolved": False, "satisfaction": "unsatisfied", "reason": "晚上还是很暗"}

    async with http.get(f"{base}/api/v1/track", params={"ticket_id": ticket_id, "phone_last4": "5678"}) as resp:
        assert (await resp.json())["followup"] == {"open": False, "answer": None}
    status, body = await post(http, url, answer)
    assert (status, body["error"]) == (409, "followup_not_open")

    await close(http, base, ticket_id, case_id)
    async with http.get(f"{base}/api/v1/track", params={"ticket_id": ticket_id, "phone_last4": "5678"}) as resp:
        assert (await resp.json())["followup"] == {"open": True, "answer": None}
    status, body = await post(http, url, {**answer, "phone_last4": "0000"})  # not the requester's number
    assert (status, body["error"]) == (404, "not_found")
    status, body = await post(http, url, answer)
    assert status == 200, body
    assert body["followup"]["open"] is False and body["followup"]["answer"]["satisfaction_label"] == "不满意"
    assert "您已评价" in [e["label"] for e in body["timeline"]]
    status, body = await post(http, url, {**answer, "satisfaction": "satisfied"})
    assert (status, body["error"]) == (409, "followup_already_answered")
    ticket = await stored(redis_url, ticket_id)
    assert (ticket.followup.resolved, ticket.followup.satisfaction, ticket.followup.channel) == (False, "unsatisfied", "web-track")


async def phone_ticket(redis_url: str, phone: str = "+8613900001234", text: str = "小区门口的路灯坏了，请派人修理。") -> str:
    """A phone ticket as the phone channel opens it (through intake), with what the agent wrote."""
    from gateway import clock
    from gateway.deadlines import due_at
    from gateway.intake import Intake
    from gateway.ticket import PENDING_ID, Location, Requester, Source, Ticket

    now = clock.now()
    ticket = Ticket(id=PENDING_ID, channel="phone", received_at=now, updated_at=now, due_at=due_at(now, "normal"),
                    requester=Requester(phone=phone), content=text, location=Location(district="朝阳区", district_code="110105"),
                    source=Source(channel_id=f"call-{phone}-{now.timestamp()}", extra={"mode": "call"}))
    redis = Redis.from_url(redis_url)
    try:
        result = await Intake(redis, "PH")(ticket, actor="agent:agent7")
    finally:
        await redis.aclose()
    assert result.ticket_id
    return result.ticket_id


async def test_phone_tickets_wait_on_the_callback_list_until_an_agent_records_the_answer(make_app: Any, http: aiohttp.ClientSession,
                                                                                           redis_url: str) -> None:
    from tests.support.desk import add_user, login

    base = await make_app(ticket_prefix="PH")  # the local inbox plays the case system
    await add_user(redis_url, "agent7", "agent")
    await add_user(redis_url, "chief", "supervisor")
    ticket_id = await phone_ticket(redis_url)
    agent, csrf = await login(base, "agent7")
    chief, chief_csrf = await login(base, "chief")
    async with agent, chief:
        async with agent.post(f"{base}/api/v1/agent/tickets/{ticket_id}/forward", headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 202, await resp.text()
        redis = Redis.from_url(redis_url)
        try:
            await eventually(lambda: Tickets(redis).get(ticket_id), lambda t: t.status == "forwarded", timeout=60)
        finally:
            await redis.aclose()

        async def waiting() -> list[str]:
            async with agent.get(f"{base}/api/v1/agent/followups", params={"channel": "phone"}) as resp:
                assert resp.status == 200
                return [i["id"] for i in (await resp.json())["items"]]

        assert await waiting() == []  # not closed yet
        async with chief.post(f"{base}/api/v1/supervisor/local-inbox/{ticket_id}/status", headers={"X-CSRF-Token": chief_csrf},
                              json={"status": "closed", "unit": UNIT, "result": RESULT}) as resp:
            assert resp.status == 200, await resp.text()
        assert await waiting() == [ticket_id]

        url = f"{base}/api/v1/agent/tickets/{ticket_id}/followup"
        async with http.post(url, json={"resolved": True, "satisfaction": "satisfied"}) as resp:
            assert resp.status == 401  # staff only
        async with agent.post(url, json={"resolved": True}, headers={"X-CSRF-Token": csrf}) as resp:
            body = await resp.json()
            assert (resp.status, [f["field"] for f in body["fields"]]) == (422, ["satisfaction"])
        async with agent.post(url, json={"resolved": True, "satisfaction": "satisfied", "reason": "电话回访：路灯已修好"},
                              headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 200, await resp.text()
            ticket = await resp.json()
        assert ticket["followup"]["by"] == "agent:agent7" and ticket["followup"]["channel"] == "phone"
        assert await waiting() == []
        async with agent.post(url, json={"resolved": False, "satisfaction": "unsatisfied"}, headers={"X-CSRF-Token": csrf}) as resp:
            assert (resp.status, (await resp.json())["error"]) == (409, "followup_already_answered")
        async with agent.get(f"{base}/api/v1/agent/followups", params={"channel": "web"}) as resp:
            assert (resp.status, (await resp.json())["fields"][0]["code"]) == (422, "invalid_channel")
