"""Other PBXs than our own Asterisk, through the gateway's real phone channel: the fake Asterisk
plays what recordings of other installations showed (issue 16), over real sockets, and the
ticket, its history and what each desk receives are checked."""
from __future__ import annotations

from typing import Any

import pytest

from gateway import keys
from gateway.ticket import Ticket
from tests.support.phone import CLIP_TEXT, Desk, PhoneRig, StartPhone, clip_8k, open_desk

NAME = "张三丰"  # 9 UTF-8 bytes


def ended(ticket: Ticket) -> bool:
    return any(h.event == "call_ended" for h in ticket.history)


def connections(ticket: Ticket) -> list[dict[str, Any]]:
    return [h.detail for h in ticket.history if h.event == "call_connected"]


async def test_caller_name_split_across_reads_at_every_byte_arrives_whole(start_phone: StartPhone, desks: list[Desk]) -> None:
    rig = await start_phone()
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    desks.append(agent1)
    for offset in range(len(NAME.encode()) + 1):
        # Every event that carries the name reaches the gateway in two reads, cut `offset` bytes into it.
        rig.asterisk.split_text = (NAME, offset)
        call = await rig.asterisk.inbound_call(caller_num=f"1381234560{offset}", caller_name=NAME)
        await rig.asterisk.ring_agent(call, agent_endpoint="1001")
        pop = await agent1.wait("call.ringing", call.linkedid)
        assert pop["call"]["caller_name"] == NAME, f"cut {offset} bytes into the name"
        assert (await rig.ticket_of(call.linkedid)).requester.name == NAME, f"cut {offset} bytes into the name"
        rig.asterisk.split_text = None
        await rig.asterisk.abandon(call)


async def test_blonde_transfer_pops_and_transcribes_the_new_agent(start_phone: StartPhone, desks: list[Desk]) -> None:
    rig = await start_phone()
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    agent4 = await open_desk(rig.base, rig.redis_url, "agent4", "agent")
    desks += [agent1, agent4]
    call = await rig.ringing_call()
    await rig.asterisk.answer(call)
    await agent1.wait("call.connected", call.linkedid)

    # agent1 consults 2002 (agent4) and hangs up while it still rings: AttendedTransfer to an App.
    await rig.asterisk.blonde_transfer(call, target_endpoint="2002")
    target = call.agent_channel
    assert target is not None and target.startswith("PJSIP/2002-")
    pop = await agent4.wait("call.ringing", call.linkedid)
    assert pop["agent"] == "agent4" and pop["call"]["caller"] == "+8613812345678"

    rig.asterisk.set_leg_audio(target, clip_8k(), realtime=False)  # what agent4 says
    await rig.asterisk.answer(call)
    connected = await agent4.wait("call.connected", call.linkedid)
    assert connected["call"]["agent"] == "agent4"
    assert (await agent1.wait("call.connected", call.linkedid))["call"]["agent"] in ("agent1", "agent4")
    await rig.asterisk.wait_action("Originate", lambda a: a.first("Data").startswith(target + ","))
    final = await agent4.wait("call.final", call.linkedid, timeout=60)
    assert final["leg"] == "agent" and CLIP_TEXT in final["segment"]["text"]

    await rig.asterisk.hangup(call, by="caller")
    ticket = await rig.ticket_until(call.linkedid, ended)
    assert [c["agent"] for c in connections(ticket)] == ["agent1", "agent4"]
    transfer = next(h.detail for h in ticket.history if h.event == "call_transferred")
    assert transfer["dest_type"] == "App" and transfer["target_channel"] == target
    assert CLIP_TEXT in "".join(s.text for s in ticket.transcript if s.leg == "agent")
    assert ticket.status == "received" and ticket.disposition is None
    assert len(await rig.redis.keys(keys.P + "idem:phone:*")) == 1  # the consultation is no citizen call


async def test_call_answered_by_an_outside_number_is_connected(start_phone: StartPhone, desks: list[Desk]) -> None:
    rig = await start_phone()
    boss = await open_desk(rig.base, rig.redis_url, "boss", "supervisor")
    desks.append(boss)
    call = await rig.asterisk.inbound_call(caller_num="13812345678")
    # Nobody in the queue: the dialplan rings the on-duty mobile through Local/… and the trunk.
    await rig.asterisk.dial_outside(call, number="13911112222", context="overflow")
    outside = call.agent_channel
    assert outside is not None and outside.startswith("PJSIP/pstn-trunk-")
    await rig.asterisk.answer(call)
    connected = await boss.wait("call.connected", call.linkedid)
    assert connected["call"]["answered_by"] == "13911112222" and connected["call"]["agent"] is None
    await rig.asterisk.wait_action("Originate", lambda a: a.first("Data").startswith(outside + ","))
    await rig.asterisk.hangup(call, by="caller")

    done = await boss.wait("call.ended", call.linkedid)
    assert done["abandoned"] is False
    ticket = await rig.ticket_until(call.linkedid, ended)
    assert ticket.status != "abandoned" and ticket.disposition is None
    assert connections(ticket) == [{"agent": None, "how": "dial", "answered_by": "13911112222"}]


async def test_queue_member_behind_a_local_pair_rings_connects_once_and_is_transcribed(
        start_phone: StartPhone, desks: list[Desk]) -> None:
    rig = await start_phone()
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    desks.append(agent1)
    call = await rig.asterisk.inbound_call()
    await rig.asterisk.ring_agent(call, agent_endpoint="1001", via_local=True)
    phone = call.agent_channel
    assert phone is not None and phone.startswith("PJSIP/1001-")
    pop = await agent1.wait("call.ringing", call.linkedid)
    assert pop["agent"] == "agent1"
    rig.asterisk.set_leg_audio(phone, clip_8k(), realtime=False)
    await rig.asterisk.answer(call)  # two bridges, then the Local pair is optimized away
    await agent1.wait("call.connected", call.linkedid)
    spy = await rig.asterisk.wait_action("Originate", lambda a: a.first("Data").startswith("PJSIP/1001-"))
    assert spy.first("Data") == f"{phone},qEou"  # the phone, not the Local half that hangs up
    final = await agent1.wait("call.final", call.linkedid, timeout=60)
    assert final["leg"] == "agent" and CLIP_TEXT in final["segment"]["text"]
    await rig.asterisk.hangup(call, by="agent")
    ticket = await rig.ticket_until(call.linkedid, ended)
    assert [c["agent"] for c in connections(ticket)] == ["agent1"]
    assert agent1.of("call.ring_stopped", call.linkedid) == []  # it was answered, not taken away
    assert (await agent1.wait("call.ended", call.linkedid))["abandoned"] is False


@pytest.mark.parametrize("version, banner, via_local", [(13, "2.10.6", False), (15, "4.0.3", True)])
async def test_asterisk_13_15_sip_phones_without_queue_or_agent_events(
        start_phone: StartPhone, desks: list[Desk], version: int, banner: str, via_local: bool) -> None:
    rig = await start_phone(version=version, phone_agents="SIP/1001=agent1")
    rig.asterisk.filtered_events = ["Queue*", "Agent*"]  # manager.conf eventfilter=!Event: (Queue|Agent).*
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    desks.append(agent1)
    assert (await rig.readyz())["checks"]["phone"]["ami_version"] == banner
    call = await rig.asterisk.inbound_call(caller_num="13812345678")
    await rig.asterisk.ring_agent(call, agent_endpoint="1001", via_local=via_local)
    assert call.agent_channel is not None and call.agent_channel.startswith("SIP/1001-")
    pop = await agent1.wait("call.ringing", call.linkedid)  # from DialBegin: no AgentCalled came
    assert pop["agent"] == "agent1"
    await rig.asterisk.answer(call)
    connected = await agent1.wait("call.connected", call.linkedid)
    assert connected["call"]["agent"] == "agent1"
    failed = await agent1.wait("call.audio_failed", call.linkedid)  # no AudioSocket before Asterisk 18
    assert failed["leg"] in ("caller", "agent")
    await rig.asterisk.hangup(call, by="caller")
    assert (await agent1.wait("call.ended", call.linkedid))["abandoned"] is False
    ticket = await rig.ticket_until(call.linkedid, ended)
    assert [c["agent"] for c in connections(ticket)] == ["agent1"]
    assert ticket.status == "received" and ticket.requester.phone == "+8613812345678"
    sent = [dict(e)["Event"] for e in rig.asterisk.events]
    assert "AgentCalled" in sent  # produced, and held back by the filter


async def test_without_agent_mapping_supervisors_take_the_pop(start_phone: StartPhone, desks: list[Desk]) -> None:
    rig: PhoneRig = await start_phone(phone_agents="")
    boss = await open_desk(rig.base, rig.redis_url, "boss", "supervisor")
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    desks += [boss, agent1]
    call = await rig.ringing_call()
    pop = await boss.wait("call.ringing", call.linkedid)
    assert pop["call"]["pop_supervisors"] is True
    await rig.asterisk.answer(call)
    assert (await boss.wait("call.connected", call.linkedid))["call"]["pop_supervisors"] is True
    assert agent1.of("call.ringing", call.linkedid) == []
