"""Agent desktop API: live pushes across instances, roles on every route, CSRF, ticket actions."""
from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from gateway.redis_client import RedisAddress
from gateway.settings import Settings
from server.app import create_app
from tests.support.desk import PASSWORD, add_user, login
from tests.support.processes import Gateway

CITIZEN = {"kind": "help", "description": "家里老人突然联系不上，想请社区帮忙上门看看", "phone": "13512345678", "district": "西城区"}


async def _next_event(ws: aiohttp.ClientWebSocketResponse, type_: str, timeout: float = 30.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            event = json.loads(msg.data)
            if event["type"] == type_:
                return event


@pytest.mark.slow
async def test_agent_on_instance_a_sees_ticket_submitted_through_instance_b(tmp_path, redis_url: str, gateways: list[Gateway]) -> None:
    a = Gateway(redis_url, tmp_path / "a", HOTLINE_INSTANCE_ID="gw-a")
    b = Gateway(redis_url, tmp_path / "b", HOTLINE_INSTANCE_ID="gw-b")
    gateways += [a, b]
    a.start(), b.start()
    await add_user(redis_url, "agent1", "agent")
    desk, _ = await login(a.base, "agent1")
    try:
        async with desk.ws_connect(a.base.replace("http", "ws") + "/api/v1/agent/ws") as ws:
            hello = await _next_event(ws, "hello")
            assert hello["instance"] == "gw-a"
            async with aiohttp.ClientSession() as citizen:
                async with citizen.post(f"{b.base}/api/v1/requests", json=CITIZEN) as r:
                    assert r.status == 201
                    ticket_id = (await r.json())["ticket_id"]
            event = await _next_event(ws, "ticket.created")
            assert event["ticket"]["id"] == ticket_id
            assert event["ticket"]["kind_label"] == "求助" and event["ticket"]["phone_masked"] == "135****5678"
    finally:
        await desk.close()


async def test_a_hotline_in_another_database_of_the_same_redis_is_not_heard(make_app, redis_url: str, second_redis_url: str) -> None:
    """Redis delivers pub/sub to every database of a server: a second hotline on the same server
    must not put its citizens' tickets on this hotline's desks."""
    here, there = await make_app(), await make_app(redis=second_redis_url, instance_id="test-b", ticket_prefix="TJ")
    await add_user(redis_url, "agent1", "agent")
    desk, _ = await login(here, "agent1")
    try:
        async with desk.ws_connect(here.replace("http", "ws") + "/api/v1/agent/ws") as ws:
            await _next_event(ws, "hello")
            async with aiohttp.ClientSession() as citizen:
                for base in (there, here):  # the other hotline's first: it must not arrive
                    async with citizen.post(f"{base}/api/v1/requests", json=CITIZEN) as r:
                        assert r.status == 201
                        ours = (await r.json())["ticket_id"]
            event = await _next_event(ws, "ticket.created")
            assert event["ticket"]["id"] == ours
    finally:
        await desk.close()


def _guarded_routes(app: web.Application) -> list[tuple[str, str]]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith(("/api/v1/agent", "/api/v1/supervisor", "/api/v1/auth/", "/api/v1/kb")) and route.method != "HEAD":
            if path != "/api/v1/auth/login":
                out.append((route.method, path))
    return out


async def test_every_desk_route_requires_a_session(app_url: str, http: aiohttp.ClientSession, tmp_path) -> None:
    routes = _guarded_routes(create_app(Settings(data_dir=tmp_path), RedisAddress(url="redis://127.0.0.1:1")))
    assert len(routes) >= 30
    for method, path in routes:
        url = app_url + path.replace("{ticket_id}", "BJ-20261122-000001").replace("{entry_id}", "1-0").replace("{sha256}", "0" * 64).replace("{entry_id}", "kb-x-001").replace("{job}", "j1").replace("{field}", "kind").replace("{session_id}", "s1").replace("{hotspot_id}", "HS-0123456789")
        async with http.request(method, url, json={}) as r:
            assert r.status == 401, (method, path, r.status)
            body = await r.json()
            assert body["error"] == "not_authenticated" and body["message"]


async def test_roles_are_enforced_and_csrf_is_required(app_url: str, redis_url: str, http: aiohttp.ClientSession) -> None:
    await add_user(redis_url, "editor", "kb_editor")
    await add_user(redis_url, "agent1", "agent")
    async with http.post(f"{app_url}/api/v1/requests", json=CITIZEN) as r:
        ticket_id = (await r.json())["ticket_id"]
    editor, _ = await login(app_url, "editor")
    agent, csrf = await login(app_url, "agent1")
    try:
        async with editor.get(f"{app_url}/api/v1/agent/tickets") as r:
            assert r.status == 403 and (await r.json())["error"] == "forbidden"
        async with agent.get(f"{app_url}/api/v1/supervisor/local-inbox") as r:
            assert r.status == 403
        note_url = f"{app_url}/api/v1/agent/tickets/{ticket_id}/notes"
        async with agent.post(note_url, json={"text": "已电话联系社区"}) as r:
            assert r.status == 403 and (await r.json())["error"] == "csrf_failed"
        async with agent.post(note_url, json={"text": "已电话联系社区"}, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200
            ticket = await r.json()
        assert ticket["messages"][-1] == {**ticket["messages"][-1], "who": "agent", "text": "已电话联系社区", "author": "agent1"}
    finally:
        await editor.close()
        await agent.close()


async def test_login_cookie_is_httponly_and_samesite(app_url: str, redis_url: str, http: aiohttp.ClientSession) -> None:
    await add_user(redis_url, "agent1", "agent")
    async with http.post(f"{app_url}/api/v1/auth/login", json={"username": "agent1", "password": "wrong-password"}) as r:
        assert r.status == 401 and (await r.json())["message"] == "用户名或密码错误"
    async with http.post(f"{app_url}/api/v1/auth/login", json={"username": "agent1", "password": PASSWORD}) as r:
        assert r.status == 200
        cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    async with http.post(f"{app_url}/api/v1/auth/login", data={"username": "agent1", "password": PASSWORD}) as r:
        assert r.status == 415  # a cross-site HTML form cannot log anyone in


async def test_agent_corrects_kind_and_location_and_forward_is_once(app_url: str, redis_url: str, http: aiohttp.ClientSession) -> None:
    await add_user(redis_url, "agent1", "agent")
    async with http.post(f"{app_url}/api/v1/requests", json={**CITIZEN, "kind": "unsure"}) as r:
        ticket_id = (await r.json())["ticket_id"]
    agent, csrf = await login(app_url, "agent1")
    headers = {"X-CSRF-Token": csrf}
    try:
        from tests.support.waiting import eventually

        # The router has the bot assess the ticket, then queues the case hop: a manual forward is refused.
        async def forward_status() -> int:
            async with agent.post(f"{app_url}/api/v1/agent/tickets/{ticket_id}/forward", json={}, headers=headers) as r:
                return r.status
        assert await eventually(forward_status, lambda s: s == 409) == 409
        async with agent.get(f"{app_url}/api/v1/agent/tickets/{ticket_id}") as r:
            assessed = await r.json()
        assert assessed["kind"] == "help" and assessed["provenance"][0]["field"] == "kind"  # "联系不上" is a request for help

        async with agent.patch(f"{app_url}/api/v1/agent/tickets/{ticket_id}", json={"kind": "complaint", "location": {"district": "东城区", "street": "东华门街道"}}, headers=headers) as r:
            assert r.status == 200, await r.text()
            ticket = await r.json()
        assert ticket["kind"] == "complaint"
        assert ticket["location"]["district"] == "东城区" and ticket["location"]["district_code"] == "110101"
        corrected = [h for h in ticket["history"] if h["event"] == "corrected"]
        assert corrected and corrected[0]["actor"] == "agent:agent1" and corrected[0]["detail"]["kind"] == {"from": "help", "to": "complaint"}
        async with agent.patch(f"{app_url}/api/v1/agent/tickets/{ticket_id}", json={"location": {"district": "纽约"}}, headers=headers) as r:
            assert r.status == 422
    finally:
        await agent.close()
