"""The agent's live assistance on a call: KB answers suggested from what the caller said (the
real clip through the real model), inserted with one click; fields pre-filled from the
transcript, each tied to its utterance, then confirmed or corrected by the agent."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from channels.phone.state import PHONE
from gateway.redis_client import RedisAddress
from peers.asterisk import FakeAsterisk
from server.app import create_app
from speech.recognizer import Segment
from tests.conftest import settings_for
from tests.support.desk import add_user, login
from tests.support.kb import call as kb_call
from tests.support.kb import content, publish_new
from tests.support.phone import AGENTS, AMI_SECRET, CLIP_TEXT, Desk, PhoneRig, clip_8k, open_desk

MARKET_ANSWER = "二手房网签暂停期间，可先办理资金监管手续；恢复后市住建委网站会发布公告，请关注“北京住建委”官方渠道。"


@pytest.fixture
async def phone_app(tmp_path: Path, redis_url: str) -> AsyncIterator[tuple[Any, PhoneRig]]:
    asterisk = FakeAsterisk(username="hotline", secret=AMI_SECRET, login_failure_delay=0.05)
    await asterisk.start()
    settings = settings_for(tmp_path, redis_url, phone=True, ami_port=asterisk.port, ami_secret=AMI_SECRET,
                            audiosocket_listen="127.0.0.1:0", phone_agents=AGENTS, ticket_prefix="PA")
    app = create_app(settings, RedisAddress(url=redis_url))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    redis = Redis.from_url(redis_url)
    await asterisk.wait_for_clients(timeout=20)
    yield app, PhoneRig(str(server.make_url("")).rstrip("/"), asterisk, redis, redis_url)
    await server.close()
    await asterisk.stop()
    await redis.aclose()


async def _publish_entry(base: str, redis_url: str) -> None:
    await add_user(redis_url, "editor", "kb_editor")
    await add_user(redis_url, "reviewer", "kb_reviewer")
    editor, reviewer = await login(base, "editor"), await login(base, "reviewer")
    try:
        await publish_new(editor, reviewer, base, "kb-market-001", content(
            "二手房交易停滞怎么办", ["房地产市场交易几乎停滞", "网签暂停交易停滞期间怎么办"], MARKET_ANSWER, category="住房"))
        await publish_new(editor, reviewer, base, "kb-parking-001", content(
            "居住区停车收费标准", ["小区停车费怎么收"], "居住区停车收费实行政府指导价，具体标准请咨询所在区发展改革委。", category="交通"))
    finally:
        await editor[0].close()
        await reviewer[0].close()


async def test_suggestions_follow_the_callers_words_and_insert_with_one_click(phone_app: tuple[Any, PhoneRig]) -> None:
    app, rig = phone_app
    await _publish_entry(rig.base, rig.redis_url)
    desk: Desk = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    try:
        call = await rig.asterisk.inbound_call(caller_num="13812345678")
        rig.asterisk.set_leg_audio(call.caller_channel, clip_8k(), realtime=False)
        await rig.asterisk.ring_agent(call, agent_endpoint="1001", interface="PJSIP/1001")
        await rig.asterisk.answer(call)
        suggested = await desk.wait("call.suggestions", call.linkedid, timeout=60)
        assert suggested["items"][0]["entry_id"] == "kb-market-001"
        assert suggested["items"][0]["version"] == 1 and suggested["items"][0]["answer"] == MARKET_ANSWER
        assert "kb-parking-001" not in [i["entry_id"] for i in suggested["items"]]
        ticket = await rig.ticket_until(call.linkedid, lambda t: CLIP_TEXT in "".join(s.text for s in t.transcript))

        status, body = await kb_call(desk.session, desk.csrf, "POST", f"{rig.base}/api/v1/agent/tickets/{ticket.id}/kb-answers",
                                     {"entry_id": "kb-market-001"})
        assert status == 200, body
        stored = await rig.ticket_of(call.linkedid)
        assert [m.text for m in stored.messages if m.source == "kb"] == [MARKET_ANSWER]
        assert stored.disposition is not None and stored.disposition.type == "answered"
        assert (stored.disposition.kb_entry_id, stored.disposition.kb_version) == ("kb-market-001", 1)
        inserted = next(h for h in stored.history if h.event == "kb_answer_inserted")
        assert inserted.actor == "agent:agent1" and inserted.detail["version"] == 1

        status, body = await kb_call(desk.session, desk.csrf, "POST", f"{rig.base}/api/v1/agent/tickets/{ticket.id}/kb-answers",
                                     {"entry_id": "kb-nonexistent"})
        assert status == 404 and body["error"] == "kb_entry_not_found"
    finally:
        await desk.close()


async def test_fields_prefilled_from_the_transcript_link_to_their_utterance(phone_app: tuple[Any, PhoneRig]) -> None:
    app, rig = phone_app
    desk = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    try:
        call = await rig.asterisk.inbound_call(caller_num="13812345678")
        await rig.asterisk.ring_agent(call, agent_endpoint="1001", interface="PJSIP/1001")
        await rig.asterisk.answer(call)
        await desk.wait("call.connected", call.linkedid)
        phone = app[PHONE]
        session = phone.sessions[call.linkedid]
        # What the recogniser would deliver for three utterances (the clip has no place in it).
        said = ["你好我要投诉物业一直不管", "朝阳区望京街道有个井盖丢了很危险", "回电打我另一个号一三九一一一一二二二二"]
        for n, text in enumerate(said):
            await phone.add_segment(session, "caller", Segment(start=2.0 + 4 * n, end=5.0 + 4 * n, text=text, confidence=0.9, words=[]), 0.0)
        prefill = await desk.wait("call.prefill", call.linkedid)
        ticket = await rig.ticket_until(call.linkedid, lambda t: t.requester.callback_phone is not None)
        assert ticket.location is not None and (ticket.location.district, ticket.location.street) == ("朝阳区", "望京街道")
        assert ticket.kind == "complaint"
        assert ticket.requester.callback_phone == "+8613911112222"
        by_field = {p.field: p for p in ticket.provenance if p.by == "asr"}
        assert by_field["location"].segment == 1 and "井盖" in (by_field["location"].detail or "")
        assert by_field["callback_phone"].segment == 2
        assert ticket.transcript[by_field["location"].segment].text == said[1]
        assert set(prefill["fields"]) <= {"location", "kind", "callback_phone"}

        base = f"{rig.base}/api/v1/agent/tickets/{ticket.id}"
        status, body = await kb_call(desk.session, desk.csrf, "POST", f"{base}/prefill/location/confirm")
        assert status == 200, body
        status, body = await kb_call(desk.session, desk.csrf, "PATCH", base, {"callback_phone": "010-6512 3456"})
        assert status == 200, body
        status, body = await kb_call(desk.session, desk.csrf, "PATCH", base, {"callback_phone": "12345"})
        assert status == 422 and body["fields"][0]["field"] == "callback_phone"
        stored = await rig.ticket_of(call.linkedid)
        assert next(p for p in stored.provenance if p.field == "location").confirmed_by == "agent1"
        assert stored.requester.callback_phone == "+861065123456"
        # A later utterance naming another district does not overwrite what the agent confirmed.
        await phone.add_segment(session, "caller", Segment(start=20.0, end=22.0, text="不对是海淀区的", confidence=0.9, words=[]), 0.0)
        assert (await rig.ticket_of(call.linkedid)).location.district == "朝阳区"  # type: ignore[union-attr]
        status, body = await kb_call(desk.session, desk.csrf, "POST", f"{base}/prefill/urgency/confirm")
        assert status == 404
    finally:
        await desk.close()
