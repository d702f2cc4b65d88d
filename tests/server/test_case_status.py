"""Status from the core case system: a forwarded ticket's 受理, 办理中, 延期 and 办结 arrive signed
as the case system signs its requests (tests/support/case_system.py), land on the ticket and on
the citizen's /track; forged, stale and replayed requests are refused and change nothing; repeats
are one event and a late 办理中 never reopens a closed case. Without a case system, a supervisor
marks the local inbox's cases through the same code."""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from gateway.tickets import Tickets
from tests.conftest import CASE_SECRET
from tests.support.case_system import encode, file_and_forward, report, send, signed
from tests.support.desk import add_user, login
from tests.support.processes import CaseReceiver
from tests.support.waiting import eventually

UNIT = "朝阳区望京街道办事处"
RESULT = "经核实，东门外路灯因线路老化损坏，已于11月25日更换线路和灯具，恢复照明。"


def at(minutes: int) -> str:
    """A time in the case system's clock: minutes after an hour ago, Beijing offset."""
    base = datetime.now().astimezone().replace(microsecond=0) - timedelta(hours=1)
    return (base + timedelta(minutes=minutes)).isoformat()


def update(ticket_id: str, case_id: str, n: int, status: str, minutes: int, **extra: Any) -> dict[str, Any]:
    return {"update_id": f"EVT-{ticket_id}-{n}", "ticket_id": ticket_id, "case_id": case_id, "status": status, "at": at(minutes), **extra}


@pytest.fixture
async def forwarded(make_app: Any, case_receiver: CaseReceiver, redis_url: str, http: aiohttp.ClientSession) -> tuple[str, str, str]:
    """A gateway forwarding to the stand-in case system, and one forwarded ticket: (base, ticket id, case id)."""
    base = await make_app(case_system_url=case_receiver.base, case_system_secret=CASE_SECRET, ticket_prefix="CS")
    ticket_id, case_id = await file_and_forward(http, base, redis_url)
    return base, ticket_id, case_id


async def stored(redis_url: str, ticket_id: str) -> Any:
    redis = Redis.from_url(redis_url)
    try:
        return await Tickets(redis).get(ticket_id)
    finally:
        await redis.aclose()


async def track(http: aiohttp.ClientSession, base: str, ticket_id: str) -> dict[str, Any]:
    async with http.get(f"{base}/api/v1/track", params={"ticket_id": ticket_id, "phone_last4": "5678"}) as resp:
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


async def test_progress_from_accepted_to_closed_lands_on_the_ticket_and_on_track(forwarded, http: aiohttp.ClientSession, redis_url: str) -> None:
    base, ticket_id, case_id = forwarded
    new_due = (datetime.now().astimezone() + timedelta(days=10)).replace(microsecond=0).isoformat()
    steps = [
        update(ticket_id, case_id, 1, "accepted", 1, unit=UNIT),
        update(ticket_id, case_id, 2, "in_progress", 5, note="已派维修班组现场查看"),
        update(ticket_id, case_id, 3, "postponed", 9, reason="需更换地下电缆，须报路政部门审批", due_at=new_due),
        update(ticket_id, case_id, 4, "closed", 20, unit=UNIT, result=RESULT),
    ]
    for step in steps:
        status, body = await report(http, base, CASE_SECRET, step)
        assert (status, body["outcome"], body["case_status"]) == (200, "applied", step["status"]), body

    ticket = await stored(redis_url, ticket_id)
    assert ticket.status == "closed"
    assert ticket.case is not None and ticket.case.case_id == case_id and ticket.case.status == "closed"
    assert (ticket.case.unit, ticket.case.result, ticket.case.postponed_reason) == (UNIT, RESULT, "需更换地下电缆，须报路政部门审批")
    assert ticket.case.due_at == datetime.fromisoformat(new_due)
    events = [e for e in ticket.history if e.event == "case_status"]
    assert [e.detail["status"] for e in events] == ["accepted", "in_progress", "postponed", "closed"]
    assert {e.actor for e in events} == {"case-system"}

    public = await track(http, base, ticket_id)
    assert public["status"] == "closed" and public["status_label"] == "已办结"
    labels = [item["label"] for item in public["timeline"]]
    assert labels == ["您的诉求已受理", "已转派至承办单位办理", "承办单位已受理", "承办单位正在办理", "延期办理", "已办结"], labels
    postponed = public["timeline"][4]
    assert "需更换地下电缆" in postponed["detail"] and "新的办理期限" in postponed["detail"]
    assert public["due_at"] == datetime.fromisoformat(new_due).isoformat()
    assert public["result"] == {"unit": UNIT, "text": RESULT, "at": datetime.fromisoformat(steps[3]["at"]).isoformat()}
    assert "已派维修班组" not in str(public)  # the case system's remark is for agents only


async def test_a_repeated_report_is_one_event_and_a_late_one_never_reopens(forwarded, http: aiohttp.ClientSession, redis_url: str) -> None:
    base, ticket_id, case_id = forwarded
    progress = update(ticket_id, case_id, 1, "in_progress", 5)
    assert (await report(http, base, CASE_SECRET, progress))[1]["outcome"] == "applied"
    # The case system's retry is a new request (a new nonce, signed again): the same update, one event.
    status, body = await report(http, base, CASE_SECRET, progress)
    assert (status, body["outcome"]) == (200, "duplicate")
    # Reported later but happened earlier: 受理 after 办理中 changes nothing.
    status, body = await report(http, base, CASE_SECRET, update(ticket_id, case_id, 2, "accepted", 1))
    assert (status, body["outcome"], body["ignored_because"], body["case_status"]) == (200, "ignored", "stale", "in_progress")

    closing = update(ticket_id, case_id, 3, "closed", 20, unit=UNIT, result=RESULT)
    assert (await report(http, base, CASE_SECRET, closing))[1]["outcome"] == "applied"
    # A 办理中 sent after 办结 (even one that claims a later time) must not reopen the case.
    status, body = await report(http, base, CASE_SECRET, update(ticket_id, case_id, 4, "in_progress", 30))
    assert (status, body["outcome"], body["ignored_because"], body["case_status"]) == (200, "ignored", "closed", "closed")
    status, body = await report(http, base, CASE_SECRET, closing)
    assert (status, body["outcome"]) == (200, "duplicate")

    ticket = await stored(redis_url, ticket_id)
    assert ticket.status == "closed" and ticket.case.status == "closed"
    assert [e.detail["update_id"] for e in ticket.history if e.event == "case_status"] == [progress["update_id"], closing["update_id"]]


async def test_forged_stale_and_replayed_requests_are_refused_and_change_nothing(forwarded, http: aiohttp.ClientSession, redis_url: str) -> None:
    base, ticket_id, case_id = forwarded
    closing = encode(update(ticket_id, case_id, 1, "closed", 20, unit=UNIT, result=RESULT))
    refusals = [
        (closing, {"Content-Type": "application/json"}, "signature_missing"),
        (closing, signed("not-the-secret", closing), "invalid_signature"),
        (closing, signed(CASE_SECRET, closing, int(time.time()) - 3600), "stale_timestamp"),
        (closing, signed(CASE_SECRET, closing, int(time.time()) + 3600), "stale_timestamp"),
        # A real signature over another body (a different result slipped in).
        (closing.replace("恢复照明".encode(), "无需处理".encode()), signed(CASE_SECRET, closing), "invalid_signature"),
    ]
    for body, headers, code in refusals:
        status, answer = await send(http, base, body, headers)
        assert (status, answer["error"]) == (401, code), answer
        assert answer["message"]  # a Chinese message for people
    ticket = await stored(redis_url, ticket_id)
    assert ticket.case is None and ticket.status == "forwarded"
    assert not [e for e in ticket.history if e.event == "case_status"]

    headers = signed(CASE_SECRET, closing)
    assert (await send(http, base, closing, headers))[0] == 200
    status, answer = await send(http, base, closing, headers)  # the captured request, sent again
    assert (status, answer["error"]) == (401, "replayed_request")
    later = signed(CASE_SECRET, closing, int(time.time()) + 5)  # even signed again: its nonce was used
    status, answer = await send(http, base, closing, later)
    assert (status, answer["error"]) == (401, "replayed_request")
    ticket = await stored(redis_url, ticket_id)
    assert len([e for e in ticket.history if e.event == "case_status"]) == 1


async def test_unknown_tickets_other_cases_and_incomplete_reports_get_specific_errors(forwarded, http: aiohttp.ClientSession, redis_url: str) -> None:
    base, ticket_id, case_id = forwarded
    cases = [
        (update("CS-20200101-000999", case_id, 1, "accepted", 1), 404, "ticket_not_found"),
        (update(ticket_id, "CASE-999999", 2, "accepted", 1), 409, "case_mismatch"),
        (update(ticket_id, case_id, 3, "closed", 20, unit=UNIT), 422, "validation_failed"),
        (update(ticket_id, case_id, 4, "postponed", 9), 422, "validation_failed"),
        (update(ticket_id, case_id, 5, "reopened", 9), 422, "validation_failed"),
        ({**update(ticket_id, case_id, 6, "accepted", 1), "at": "2026-11-22 10:00"}, 422, "validation_failed"),
    ]
    for body, expected_status, code in cases:
        status, answer = await report(http, base, CASE_SECRET, body)
        assert (status, answer["error"]) == (expected_status, code), (body, answer)
    _, answer = await report(http, base, CASE_SECRET, update(ticket_id, case_id, 7, "closed", 20, unit=UNIT))
    assert [f["code"] for f in answer["fields"]] == ["result_required"]
    _, answer = await report(http, base, CASE_SECRET, update(ticket_id, case_id, 8, "postponed", 9))
    assert [f["code"] for f in answer["fields"]] == ["reason_required", "due_at_required"]
    ticket = await stored(redis_url, ticket_id)
    assert ticket.case is None


async def test_without_a_secret_no_report_is_taken(make_app: Any, http: aiohttp.ClientSession) -> None:
    base = await make_app()
    body = encode({"update_id": "x", "ticket_id": "BJ-20261122-000001", "case_id": "C", "status": "accepted", "at": at(1)})
    status, answer = await send(http, base, body, signed("", body))
    assert (status, answer["error"]) == (503, "case_system_not_configured")


async def test_a_supervisor_plays_the_case_system_on_the_local_inbox(make_app: Any, redis_url: str, http: aiohttp.ClientSession) -> None:
    base = await make_app(ticket_prefix="LI")  # no CASE_SYSTEM_URL: tickets go to the local inbox
    ticket_id, case_id = await file_and_forward(http, base, redis_url)
    assert case_id == f"LOCAL-{ticket_id}"
    await add_user(redis_url, "chief", "supervisor")
    await add_user(redis_url, "agent7", "agent")
    mark = f"{base}/api/v1/supervisor/local-inbox/{ticket_id}/status"
    agent, agent_csrf = await login(base, "agent7")
    chief, csrf = await login(base, "chief")
    async with agent, chief:
        async with agent.post(mark, json={"status": "accepted"}, headers={"X-CSRF-Token": agent_csrf}) as resp:
            assert resp.status == 403
        async with chief.post(mark, json={"status": "accepted"}) as resp:
            assert (resp.status, (await resp.json())["error"]) == (403, "csrf_failed")
        async with chief.post(mark, json={"status": "closed", "unit": UNIT}, headers={"X-CSRF-Token": csrf}) as resp:
            answer = await resp.json()
            assert (resp.status, [f["code"] for f in answer["fields"]]) == (422, ["result_required"])
        async with chief.post(mark, json={"status": "closed", "unit": UNIT, "result": RESULT}, headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 200, await resp.text()
            ticket = await resp.json()
        assert ticket["status"] == "closed" and ticket["case"]["result"] == RESULT and ticket["case"]["case_id"] == case_id
        assert [e["actor"] for e in ticket["history"] if e["event"] == "case_status"] == ["agent:chief"]
        async with chief.post(mark, json={"status": "in_progress"}, headers={"X-CSRF-Token": csrf}) as resp:
            assert (resp.status, (await resp.json())["error"]) == (409, "case_closed")
        async with chief.get(f"{base}/api/v1/supervisor/local-inbox") as resp:
            items = (await resp.json())["items"]
        assert [(i["ticket_id"], i["case_status"]) for i in items] == [(ticket_id, "closed")]
        async with chief.post(f"{base}/api/v1/supervisor/local-inbox/LI-20200101-000001/status", json={"status": "accepted"},
                              headers={"X-CSRF-Token": csrf}) as resp:
            assert (resp.status, (await resp.json())["error"]) == (404, "not_in_local_inbox")
    public = await eventually(lambda: track(http, base, ticket_id), lambda p: p.get("result") is not None)
    assert public["status_label"] == "已办结" and public["result"]["text"] == RESULT
