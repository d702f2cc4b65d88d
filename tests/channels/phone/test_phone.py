"""The phone channel end to end over real sockets: the gateway logs in to an AMI peer that
writes Asterisk's wire format byte for byte, files one ticket per call, pops the call up on
the ringing agent's desk only, asks for each leg's audio with an AudioSocket spy, and writes
the real clip's transcript (decoded by the real Vosk model) to the ticket."""
from __future__ import annotations

import time
from typing import Any

import pytest

from gateway import keys
from tests.support.phone import AMI_SECRET, CLIP_TEXT, Desk, StartPhone, clip_8k, open_desk
from tests.support.waiting import eventually


async def test_inbound_queue_call_pops_up_for_the_ringing_agent_and_is_transcribed(start_phone: StartPhone, desks: list[Desk], http: Any) -> None:
    rig = await start_phone()
    # The caller asked something on the web last week: the agent must see it on the pop.
    async with http.post(f"{rig.base}/api/v1/requests", json={
            "kind": "complaint", "description": "小区门口路灯坏了一周，晚上很黑", "district": "朝阳区", "phone": "13812345678"}) as resp:
        assert resp.status == 201
        earlier_id = (await resp.json())["ticket_id"]
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    agent2 = await open_desk(rig.base, rig.redis_url, "agent2", "agent")
    boss = await open_desk(rig.base, rig.redis_url, "boss", "supervisor")
    desks += [agent1, agent2, boss]

    call = await rig.asterisk.inbound_call(caller_num="13812345678")
    rig.asterisk.set_leg_audio(call.caller_channel, clip_8k(), realtime=False)  # as fast as the socket takes it
    await rig.asterisk.ring_agent(call, agent_endpoint="1001", interface="PJSIP/1001")

    pop = await agent1.wait("call.ringing", call.linkedid)
    assert pop["call"]["caller"] == "+8613812345678"
    assert [t["id"] for t in pop["call"]["earlier"]] == [earlier_id]
    ticket = await rig.ticket_of(call.linkedid)
    assert pop["call"]["ticket_id"] == ticket.id
    assert ticket.channel == "phone" and ticket.requester.phone == "+8613812345678"
    assert ticket.links.repeat_caller == [earlier_id]
    assert (await boss.wait("call.ringing", call.linkedid))["call"]["ticket_id"] == ticket.id  # supervisors see every call

    await rig.asterisk.answer(call)
    await agent1.wait("call.connected", call.linkedid)
    spies = [await rig.asterisk.wait_action("Originate", lambda a: a.first("Data").startswith(ch + ","))
             for ch in (call.caller_channel, call.agent_channel)]
    for spy in spies:
        assert spy.first("Channel").startswith("AudioSocket/127.0.0.1:")
        assert spy.first("Application") == "ChanSpy" and spy.first("Data").endswith(",qEou")
    await rig.asterisk.wait_action("Setvar", lambda a: a.first("Variable") == "HOTLINE_TICKET" and a.first("Value") == ticket.id)

    final = await agent1.wait("call.final", call.linkedid, timeout=60)
    assert final["leg"] == "caller" and CLIP_TEXT in final["segment"]["text"]
    await rig.asterisk.wait_audio_done(call.caller_channel, timeout=30)
    await rig.asterisk.hangup(call, by="caller")
    ended = await agent1.wait("call.ended", call.linkedid)
    assert ended["abandoned"] is False and ended["cause"] == 16

    stored = await rig.ticket_until(call.linkedid, lambda t: any(h.event == "call_ended" for h in t.history))
    caller_lines = [s for s in stored.transcript if s.leg == "caller"]
    assert CLIP_TEXT in "".join(s.text for s in caller_lines)
    assert all(0 <= s.start < s.end and 0 < s.confidence <= 1 for s in caller_lines)
    assert CLIP_TEXT in stored.content
    assert stored.status == "received" and stored.disposition is None  # the agent decides, not the router
    assert [h.detail.get("agent") for h in stored.history if h.event == "call_connected"] == ["agent1"]
    # Only the agents concerned get the call: agent2 saw nothing of it.
    assert agent2.of("call.ringing", call.linkedid) == [] and agent2.of("call.partial", call.linkedid) == []
    assert await rig.redis.keys(keys.idempotency("phone", "*")) == [keys.idempotency("phone", call.linkedid).encode()]


async def test_real_time_audio_shows_partials_before_the_final_words(start_phone: StartPhone, desks: list[Desk]) -> None:
    rig = await start_phone()
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    desks.append(agent1)
    call = await rig.ringing_call(caller_num="01065001234")
    await agent1.wait("call.ringing", call.linkedid)
    rig.asterisk.set_leg_audio(call.caller_channel, clip_8k(), realtime=True)
    started = time.monotonic()
    await rig.asterisk.answer(call)
    final = await agent1.wait("call.final", call.linkedid, timeout=60)
    partials = [e for e in agent1.of("call.partial", call.linkedid) if e["leg"] == "caller"]
    assert partials, "no partial transcript reached the desk while the caller spoke"
    first_partial_at = agent1.events.index(partials[0])
    assert first_partial_at < agent1.events.index(final)
    assert any(word in partials[-1]["text"] for word in ("甚至", "交易", "停滞"))
    assert CLIP_TEXT in final["segment"]["text"]
    assert time.monotonic() - started >= 3.5  # it really was paced: 4.2 s of audio
    ticket = await rig.ticket_of(call.linkedid)
    assert ticket.requester.phone == "+861065001234"


async def test_caller_who_gives_up_in_the_queue_leaves_an_abandoned_ticket(start_phone: StartPhone, desks: list[Desk]) -> None:
    rig = await start_phone()
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    desks.append(agent1)
    call = await rig.ringing_call(caller_num="13900001111")
    await agent1.wait("call.ringing", call.linkedid)
    await rig.asterisk.abandon(call)
    await agent1.wait("call.ring_stopped", call.linkedid)
    ticket = await rig.ticket_until(call.linkedid, lambda t: t.status == "abandoned")
    assert ticket.disposition is not None and ticket.disposition.type == "abandoned"
    assert "排队" in ticket.disposition.reason and "回拨" in ticket.disposition.reason
    assert any(h.event == "call_abandoned_in_queue" for h in ticket.history)
    assert ticket.requester.phone == "+8613900001111"


async def test_blind_transfer_follows_the_caller_to_the_new_agent(start_phone: StartPhone, desks: list[Desk]) -> None:
    rig = await start_phone()
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    agent3 = await open_desk(rig.base, rig.redis_url, "agent3", "agent")
    desks += [agent1, agent3]
    call = await rig.ringing_call()
    await rig.asterisk.answer(call)
    await agent1.wait("call.connected", call.linkedid)
    await rig.asterisk.blind_transfer(call, exten="2001", context="transfer")
    await agent1.wait("call.transferred", call.linkedid)
    await rig.asterisk.answer(call)
    connected = await agent3.wait("call.connected", call.linkedid)
    assert connected["call"]["agent"] == "agent3"
    new_leg = call.agent_channel
    await rig.asterisk.wait_action("Originate", lambda a: a.first("Data").startswith(new_leg + ","))
    ticket = await rig.ticket_until(call.linkedid, lambda t: any(h.event == "call_transferred" for h in t.history))
    transfer = next(h for h in ticket.history if h.event == "call_transferred")
    assert transfer.detail["type"] == "blind" and transfer.detail["exten"] == "2001" and transfer.detail["context"] == "transfer"
    await rig.asterisk.hangup(call)
    ticket = await rig.ticket_until(call.linkedid, lambda t: any(h.event == "call_ended" for h in t.history))
    assert [h.detail.get("agent") for h in ticket.history if h.event == "call_connected"] == ["agent1", "agent3"]


async def test_attended_transfer_hands_the_call_to_the_consulted_agent(start_phone: StartPhone, desks: list[Desk]) -> None:
    rig = await start_phone()
    agent4 = await open_desk(rig.base, rig.redis_url, "agent4", "agent")
    desks.append(agent4)
    call = await rig.ringing_call()
    await rig.asterisk.answer(call)
    await rig.asterisk.attended_transfer(call, target_endpoint="2002")
    connected = await agent4.wait("call.connected", call.linkedid)
    assert connected["call"]["agent"] == "agent4"
    ticket = await rig.ticket_until(call.linkedid, lambda t: any(h.event == "call_transferred" for h in t.history))
    transfer = next(h for h in ticket.history if h.event == "call_transferred")
    assert transfer.detail["type"] == "attended" and transfer.detail["target_channel"].startswith("PJSIP/2002-")
    # The consultation call between the two agents is not a citizen call: no second ticket.
    assert len(await rig.redis.keys(keys.idempotency("phone", "*"))) == 1


async def test_ami_connection_drop_mid_call_reconnects_and_resyncs(start_phone: StartPhone, desks: list[Desk]) -> None:
    rig = await start_phone()
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    desks.append(agent1)
    kept = await rig.ringing_call(caller_num="13700000001")
    await rig.asterisk.answer(kept)
    lost = await rig.asterisk.inbound_call(caller_num="13700000002")
    await agent1.wait("call.connected", kept.linkedid)
    await rig.ticket_of(lost.linkedid)

    await rig.asterisk.drop_connections()
    # While the gateway is away, one caller hangs up: that Hangup event is never seen.
    await rig.asterisk.abandon(lost)
    await rig.asterisk.wait_for_clients(timeout=20)
    await rig.asterisk.wait_action("CoreShowChannels")

    gone = await rig.ticket_until(lost.linkedid, lambda t: any(h.event == "call_ended" for h in t.history))
    assert gone.status == "abandoned"
    # The call that stayed up is still followed after the reconnect: its hangup closes it normally.
    await rig.asterisk.hangup(kept, by="agent")
    ended = await agent1.wait("call.ended", kept.linkedid)
    assert ended["abandoned"] is False
    assert (await rig.readyz())["checks"]["phone"]["ami"] == "connected"


async def test_failed_login_is_reported_and_retried_with_backoff(start_phone: StartPhone) -> None:
    rig = await start_phone(secret="wrong-secret", wait_login=False)

    async def logins() -> list[Any]:
        return [a for a in rig.asterisk.actions if a.first("Action").lower() == "login"]

    attempts = await eventually(logins, lambda found: len(found) >= 3, timeout=20)
    assert all(a.first("AuthType").lower() == "md5" and a.first("Key") and not a.first("Secret") for a in attempts)
    status = (await rig.readyz())["checks"]["phone"]
    assert status["ami"] == "login_failed" and "Authentication failed" in status["ami_error"]
    assert rig.asterisk.logged_in_clients == 0


@pytest.mark.parametrize("version", [16, 22])
async def test_plain_login_and_older_and_newer_asterisk_field_sets(start_phone: StartPhone, version: int) -> None:
    rig = await start_phone(version=version, ami_auth="plain")
    login = next(a for a in rig.asterisk.actions if a.first("Action") == "Login")
    assert login.first("Secret") == AMI_SECRET
    call = await rig.ringing_call(caller_num="13600000000")
    await rig.asterisk.answer(call)
    await rig.asterisk.hangup(call, cause=17)
    ticket = await rig.ticket_until(call.linkedid, lambda t: any(h.event == "call_ended" for h in t.history))
    assert next(h for h in ticket.history if h.event == "call_ended").detail["cause"] == 17


async def test_malformed_ami_frames_do_not_stop_call_tracking(start_phone: StartPhone, desks: list[Desk]) -> None:
    rig = await start_phone()
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    desks.append(agent1)
    await rig.asterisk.send_raw(b"\x00\xff\xfegarbage without a colon\r\nEvent: Hangup\r\nCause: not-a-number\r\n\r\n"
                                b"Event: Newchannel\r\nChannel\r\n: \r\n\r\nEvent:\r\n\r\n" + "Event: 未知事件\r\n\r\n".encode())
    call = await rig.ringing_call()
    await agent1.wait("call.ringing", call.linkedid)
    assert rig.asterisk.logged_in_clients == 1
