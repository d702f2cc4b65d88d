"""京津冀一键互转: two hotlines on loopback transfer to each other through the real partner API."""
from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp

from channels.partner.signing import signature, signed_headers
from gateway import keys
from tests.support.media import png
from tests.support.partners import CITIZEN, KEY_ID, KEYS, SECRET, Hotline, edit_partner, pair, signed_post, start_hotline, write_directory  # noqa: F401 (fixture)
from tests.support.phone import open_desk
from tests.support.processes import free_port
from tests.support.waiting import eventually

TRANSFERS = "/partners/v1/transfers"


def _transferred(ticket: Any) -> bool:
    return ticket.disposition is not None and ticket.disposition.type == "transferred" and ticket.disposition.receipt.startswith("TJ-")


def envelope(transfer_id: str = "BJ-20261203-000042.tianjin", **changes: Any) -> dict[str, Any]:
    now = datetime.now(timezone.utc).isoformat()
    return {"schema": "hotline.partner-transfer/v1", "transfer_id": transfer_id, "origin": "beijing", "origin_ticket_id": "BJ-20261203-000042",
            "sent_at": now, "reason": "属地管辖", "agent": {"username": "wang", "display_name": "王坐席"}, "kind": "complaint",
            "summary": "河西区某工地夜间施工扰民", "received_at": now, "requester": {"confidential": False}, **changes}


async def test_transfer_reaches_the_partner_and_its_status_comes_back(pair: tuple[Hotline, Hotline]) -> None:
    beijing, tianjin = pair
    picture = png(24, 24, seed=7)
    ticket_id = await beijing.submit({**CITIZEN, "attachments": [{"filename": "现场.png", "content_base64": base64.b64encode(picture).decode()}]})

    status, body = await beijing.transfer(ticket_id, verbal_consent=True)
    assert status == 202, body
    assert body["withheld"] == [] and body["live_call"] is False

    original = await beijing.ticket_until(ticket_id, _transferred)
    assert original.status == "transferred"
    assert original.requester.consent_share_partner
    assert any(p.field == "requester.consent_share_partner" and p.by == "agent:agent-beijing" for p in original.provenance)
    ledger = [d for d in original.deliveries if d.hop == "partner:tianjin"]
    assert [d.outcome for d in ledger] == ["delivered"] and ledger[0].case_id == original.disposition.receipt

    received = await tianjin.ticket(original.disposition.receipt)
    assert received.channel == "partner"
    assert received.source.channel_id == f"beijing:{ticket_id}.tianjin"
    assert received.content == CITIZEN["description"]
    assert (received.requester.phone, received.requester.name) == ("+8613812345678", "张三")
    assert received.messages[0].who == "partner" and "北京市12345市民服务热线转来" in received.messages[0].text
    assert received.location is not None and received.location.district == "朝阳区"
    sha = hashlib.sha256(picture).hexdigest()
    assert [a.sha256 for a in received.attachments] == [sha]
    # Tianjin stored the bytes it fetched through the signed link.
    async with tianjin.agent.get(f"{tianjin.base}/api/v1/agent/blobs/{sha}") as resp:
        assert resp.status == 200 and await resp.read() == picture

    status, _ = await tianjin.api("POST", f"/api/v1/agent/tickets/{received.id}/partner-status", {"status": "accepted"})
    assert status == 202
    accepted = await beijing.ticket_until(ticket_id, lambda t: t.disposition.partner_status == "accepted")
    assert accepted.status == "transferred"
    status, body = await tianjin.api("POST", f"/api/v1/agent/tickets/{received.id}/partner-status", {"status": "resolved"})
    assert status == 422 and body["error"] == "validation_failed"
    status, _ = await tianjin.api("POST", f"/api/v1/agent/tickets/{received.id}/partner-status",
                                  {"status": "resolved", "result": "已联系施工方，夜间停止施工"})
    assert status == 202
    done = await beijing.ticket_until(ticket_id, lambda t: t.disposition.partner_status == "resolved")
    assert done.disposition.result == "已联系施工方，夜间停止施工"
    assert [e.detail["status"] for e in done.history if e.event == "partner_status"] == ["accepted", "resolved"]
    # The citizen reads the partner's result on /track, in public wording.
    async with beijing.agent.get(f"{beijing.base}/api/v1/track", params={"ticket_id": ticket_id, "phone_last4": "5678"}) as resp:
        public = await resp.json()
    assert public["status_label"] == "已办结"
    assert public["result"]["text"] == "已联系施工方，夜间停止施工" and "天津" in public["result"]["unit"]
    labels = [item["label"] for item in public["timeline"]]
    partner = public["result"]["unit"]
    assert [label for label in labels if partner in label] == [f"已转至{partner}办理", f"{partner}已受理", f"{partner}已办结"], labels
    status, body = await tianjin.api("POST", f"/api/v1/agent/tickets/{received.id}/partner-status", {"status": "in_progress"})
    assert status == 409 and body["error"] == "status_not_forward"

    status, body = await beijing.transfer(ticket_id)
    assert status == 409 and body["error"] == "already_transferred"


async def test_consent_gate_and_the_partners_allow_list(pair: tuple[Hotline, Hotline]) -> None:
    beijing, tianjin = pair
    without = await beijing.submit()
    status, body = await beijing.transfer(without)
    assert status == 202 and body["withheld"] == ["requester.name", "requester.phone"]
    received = await tianjin.ticket((await beijing.ticket_until(without, _transferred)).disposition.receipt)
    assert (received.requester.phone, received.requester.name) == (None, None)
    assert "对方未提供：姓名、电话" in received.messages[0].text
    assert received.content == CITIZEN["description"]

    await edit_partner(beijing, "tianjin", fields=["requester.name", "location", "messages", "transcript", "attachments"])
    consented = await beijing.submit({**CITIZEN, "description": "天津市南开区路灯不亮已经半个月"})
    status, body = await beijing.transfer(consented, verbal_consent=True)
    assert status == 202 and body["withheld"] == ["requester.phone"]
    received = await tianjin.ticket((await beijing.ticket_until(consented, _transferred)).disposition.receipt)
    assert (received.requester.phone, received.requester.name) == (None, "张三")


async def test_forged_stale_or_replayed_requests_are_refused_and_nothing_is_stored(pair: tuple[Hotline, Hotline]) -> None:
    _, tianjin = pair
    async with aiohttp.ClientSession() as http:
        tampered = envelope()
        status, body = await signed_post(http, tianjin.base, TRANSFERS, tampered, headers={"X-Partner-Signature": "0" * 64})
        assert (status, body["error"]) == (401, "invalid_signature")
        status, body = await signed_post(http, tianjin.base, TRANSFERS, envelope(), secret="another-secret-0123456789")
        assert (status, body["error"]) == (401, "invalid_signature")
        status, body = await signed_post(http, tianjin.base, TRANSFERS, envelope(), sender="hebei")
        assert (status, body["error"]) == (401, "unknown_partner")
        status, body = await signed_post(http, tianjin.base, TRANSFERS, envelope(), headers={"X-Partner-Signature": ""})
        assert (status, body["error"]) == (401, "signature_missing")

        raw = json.dumps(envelope(), ensure_ascii=False).encode()
        stale_ts = str(int(time.time()) - 400)
        stale = {"X-Partner-Id": "beijing", "X-Partner-Key-Id": KEY_ID, "X-Partner-Timestamp": stale_ts, "X-Partner-Nonce": "n" * 20,
                 "X-Partner-Signature": signature(SECRET, "POST", TRANSFERS, stale_ts, "n" * 20, raw)}
        async with http.post(f"{tianjin.base}{TRANSFERS}", data=raw, headers=stale) as resp:
            assert resp.status == 401 and (await resp.json())["error"] == "stale_timestamp"

        assert await tianjin.partner_tickets() == []
        assert [k async for k in tianjin.redis.scan_iter(match=keys.P + "partner:nonce:*")] == []

        # A valid request, then the very same bytes again: the second is a replay.
        body_bytes = json.dumps(envelope(), ensure_ascii=False).encode()
        headers = {**signed_headers("beijing", KEY_ID, SECRET, "POST", TRANSFERS, body_bytes), "Content-Type": "application/json"}
        async with http.post(f"{tianjin.base}{TRANSFERS}", data=body_bytes, headers=headers) as resp:
            assert resp.status == 201, await resp.text()
        async with http.post(f"{tianjin.base}{TRANSFERS}", data=body_bytes, headers=headers) as resp:
            assert resp.status == 401 and (await resp.json())["error"] == "replayed_nonce"
        assert len(await tianjin.partner_tickets()) == 1


async def test_bad_envelopes_are_specific_errors(pair: tuple[Hotline, Hotline]) -> None:
    _, tianjin = pair
    async with aiohttp.ClientSession() as http:
        status, body = await signed_post(http, tianjin.base, TRANSFERS, b"{not json")
        assert (status, body["error"]) == (422, "validation_failed")
        status, body = await signed_post(http, tianjin.base, TRANSFERS, envelope(origin="tianjin"))
        assert (status, body["error"]) == (422, "origin_mismatch")
        status, body = await signed_post(http, tianjin.base, TRANSFERS, envelope(requester={"phone": "13812345678"}))
        assert status == 422 and body["fields"][0]["field"].startswith("requester.phone")
        status, body = await signed_post(http, tianjin.base, TRANSFERS, envelope(summary="长" * 3_000_000))
        assert (status, body["error"]) == (413, "payload_too_large")
        # An attachment link outside the sender's API is never fetched, only noted.
        attachment = {"kind": "image", "sha256": "a" * 64, "size": 10, "mime": "image/png", "url": "http://127.0.0.1:1/steal",
                      "expires_at": datetime.now(timezone.utc).isoformat()}
        status, body = await signed_post(http, tianjin.base, TRANSFERS, envelope(transfer_id="BJ-20261203-000043.tianjin", attachments=[attachment]))
        assert status == 201
        ticket = await tianjin.ticket(body["ticket_id"])
        assert ticket.attachments == [] and "未访问" in ticket.messages[-1].text
    assert len(await tianjin.partner_tickets()) == 1


async def test_a_repeated_transfer_id_gets_the_same_receipt(pair: tuple[Hotline, Hotline]) -> None:
    _, tianjin = pair
    async with aiohttp.ClientSession() as http:
        first_status, first = await signed_post(http, tianjin.base, TRANSFERS, envelope())
        again_status, again = await signed_post(http, tianjin.base, TRANSFERS, envelope(reason="重发"))
    assert (first_status, again_status) == (201, 200)
    assert again["ticket_id"] == first["ticket_id"] and again["duplicate"] is True and first["duplicate"] is False
    assert await tianjin.partner_tickets() == [first["ticket_id"]]


async def test_a_partner_that_is_down_gets_the_transfer_once_it_is_back(make_app: Any, redis_url: str, second_redis_url: str, tmp_path: Path) -> None:
    ports = {"beijing": free_port(), "tianjin": free_port()}
    beijing = await start_hotline(make_app, "beijing", redis_url, tmp_path / "bj", ports)
    tianjin: Hotline | None = None
    try:
        ticket_id = await beijing.submit()
        status, _ = await beijing.transfer(ticket_id, verbal_consent=True)
        assert status == 202
        await beijing.ticket_until(ticket_id, lambda t: sum(d.hop == "partner:tianjin" and d.outcome == "retry" for d in t.deliveries) >= 2)
        tianjin = await start_hotline(make_app, "tianjin", second_redis_url, tmp_path / "tj", ports)
        delivered = await beijing.ticket_until(ticket_id, _transferred, timeout=30)
        outcomes = [d.outcome for d in delivered.deliveries if d.hop == "partner:tianjin"]
        assert outcomes[-1] == "delivered" and set(outcomes[:-1]) == {"retry"}
        assert await tianjin.partner_tickets() == [delivered.disposition.receipt]
    finally:
        await beijing.close()
        if tianjin is not None:
            await tianjin.close()


async def test_an_inbound_transfer_pops_up_on_the_agents_desks(pair: tuple[Hotline, Hotline]) -> None:
    beijing, tianjin = pair
    desk = await open_desk(tianjin.base, tianjin.redis_url, "duty-agent", "agent")
    try:
        ticket_id = await beijing.submit()
        await beijing.transfer(ticket_id)
        pop = await desk.wait("partner.transfer_in")
        assert pop["origin"] == {"id": "beijing", "name": "北京市12345市民服务热线"}
        assert pop["ticket"]["channel"] == "partner" and pop["reason"].startswith("诉求发生地")
        status, waiting = await tianjin.api("GET", "/api/v1/agent/partner-transfers")  # what a desk that reloads shows
        assert status == 200 and [t["ticket"]["id"] for t in waiting["transfers"]] == [pop["ticket"]["id"]]
        await tianjin.api("POST", f"/api/v1/agent/tickets/{pop['ticket']['id']}/partner-status", {"status": "accepted"})
        claimed = await desk.wait("partner.transfer_claimed")
        assert claimed["ticket_id"] == pop["ticket"]["id"] and claimed["by"] == "agent-tianjin"
        assert (await tianjin.api("GET", "/api/v1/agent/partner-transfers"))[1]["transfers"] == []
    finally:
        await desk.close()


async def test_roles_on_partner_routes(pair: tuple[Hotline, Hotline]) -> None:
    beijing, _ = pair
    status, body = await beijing.api("GET", "/api/v1/admin/partners")
    assert (status, body["error"]) == (403, "forbidden")
    status, body = await beijing.api("PUT", "/api/v1/admin/partners/tianjin", {"name": "x"})
    assert status == 403
    status, listing = await beijing.api("GET", "/api/v1/agent/partners")
    assert status == 200 and [p["id"] for p in listing["partners"]] == ["tianjin"]  # only partners with a key
    status, listing = await beijing.api("GET", "/api/v1/admin/partners", as_admin=True)
    assert len(listing["partners"]) == 17 and listing["self"] == "beijing"
    status, body = await beijing.transfer("BJ-20261203-999999")
    assert (status, body["error"]) == (404, "ticket_not_found")
    ticket_id = await beijing.submit()
    status, body = await beijing.transfer(ticket_id, partner="hebei")
    assert (status, body["error"]) == (422, "unknown_partner")
    status, body = await beijing.api("POST", f"/api/v1/agent/tickets/{ticket_id}/partner-status", {"status": "accepted"})
    assert (status, body["error"]) == (409, "not_a_transfer")
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.post(f"{beijing.base}/api/v1/agent/tickets/{ticket_id}/transfer", json={"partner": "tianjin", "reason": "属地"}) as resp:
            assert resp.status == 401


async def test_a_live_call_is_put_through_by_ami_while_its_case_is_sent(start_phone: Any, make_app: Any, second_redis_url: str, tmp_path: Path,
                                                                       desks: list[Any]) -> None:
    ports = {"beijing": free_port(), "tianjin": free_port()}
    seed = write_directory(tmp_path / "beijing-partners.yaml", {pid: f"http://127.0.0.1:{port}" for pid, port in ports.items()})
    rig = await start_phone(port=ports["beijing"], partner_self="beijing", partner_keys=KEYS, partner_directory_seed=seed)
    tianjin = await start_hotline(make_app, "tianjin", second_redis_url, tmp_path / "tj", ports)
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    desks.append(agent1)
    try:
        call = await rig.ringing_call(caller_num="13812345678")
        await rig.asterisk.answer(call)
        await agent1.wait("call.connected", call.linkedid)
        ticket = await rig.ticket_of(call.linkedid)
        agent_channel = call.agent_channel  # the peer's model of the call moves on once transferred

        async with agent1.session.post(f"{rig.base}/api/v1/agent/tickets/{ticket.id}/transfer", headers={"X-CSRF-Token": agent1.csrf},
                                       json={"partner": "tianjin", "reason": "来电人反映天津市的问题", "verbal_consent": True}) as resp:
            assert resp.status == 202, await resp.text()
            assert (await resp.json())["live_call"] is True
        action = await rig.asterisk.wait_action("BlindTransfer")
        assert (action.first("Channel"), action.first("Context"), action.first("Exten")) == (agent_channel, "transfer", "tianjin")

        sent = await rig.ticket_until(call.linkedid, lambda t: _transferred(t) and any(h.event == "call_transferred" for h in t.history))
        received = await tianjin.ticket(sent.disposition.receipt)
        assert received.source.extra["live_call"] == "1"
        assert received.requester.phone == "+8613812345678"  # the citizen agreed on the phone
        requested = next(h for h in sent.history if h.event == "transfer_requested")
        assert requested.detail["live_call"] is True and requested.detail["route"] == "tianjin"
    finally:
        await tianjin.close()


async def test_a_live_call_is_put_through_from_an_instance_without_the_ami_session(start_phone: Any, make_app: Any, second_redis_url: str,
                                                                                   tmp_path: Path, desks: list[Any]) -> None:
    ports = {"beijing": free_port(), "tianjin": free_port()}
    seed = write_directory(tmp_path / "beijing-partners.yaml", {pid: f"http://127.0.0.1:{port}" for pid, port in ports.items()})
    partner_settings = dict(partner_self="beijing", partner_keys=KEYS, partner_directory_seed=seed)
    rig = await start_phone(port=ports["beijing"], **partner_settings)
    other = await make_app(instance_id="test-b", **partner_settings)  # same Redis, no phone channel of its own
    tianjin = await start_hotline(make_app, "tianjin", second_redis_url, tmp_path / "tj", ports)
    agent1 = await open_desk(other, rig.redis_url, "agent1", "agent")
    desks.append(agent1)
    try:
        call = await rig.ringing_call(caller_num="13812345678")
        await rig.asterisk.answer(call)
        ticket = await rig.ticket_of(call.linkedid)
        await eventually(lambda: rig.redis.hget(keys.LIVE_CALLS, call.linkedid), lambda v: v is not None and b'"connected"' in v)
        agent_channel = call.agent_channel  # the peer's model of the call moves on once transferred

        async with agent1.session.post(f"{other}/api/v1/agent/tickets/{ticket.id}/transfer", headers={"X-CSRF-Token": agent1.csrf},
                                       json={"partner": "tianjin", "reason": "来电人反映天津市的问题"}) as resp:
            assert resp.status == 202, await resp.text()
        action = await rig.asterisk.wait_action("BlindTransfer")
        assert (action.first("Channel"), action.first("Exten")) == (agent_channel, "tianjin")
        await rig.ticket_until(call.linkedid, _transferred)
    finally:
        await tianjin.close()
