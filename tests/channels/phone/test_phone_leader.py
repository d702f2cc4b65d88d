"""The phone leader moving to another gateway instance in the middle of a call: two gateway
processes with the phone channel on, one speech node process with the real Vosk model, and the
byte-faithful Asterisk peer in this process.

The leader is SIGKILLed while the caller is speaking. The standby takes the lease once it runs
out, logs in to AMI, adopts the live call from CoreShowChannels, hangs up the spies the dead
leader left on the node, and spies the legs again. The ticket keeps the words before and after,
with the takeover and the gap in its history; a desk on the surviving instance sees it all."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from channels.phone import keys as phone_keys
from channels.phone.keys import speech_node_legs
from gateway import keys
from gateway.ticket import Ticket
from gateway.tickets import Tickets
from peers.asterisk import AudioSpy, FakeAsterisk
from tests.channels.phone.test_speech_nodes import history, nodes, silence, start_node  # noqa: F401 (the fixture)
from tests.support.phone import AGENTS, AMI_SECRET, CLIP_TEXT, Desk, clip_8k, open_desk
from tests.support.processes import Gateway, SpeechNodeProc, free_port
from tests.support.waiting import eventually

LEADER_KEY = phone_keys.LEADER


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    peer = FakeAsterisk(username="hotline", secret=AMI_SECRET, login_failure_delay=0.05)
    await peer.start()
    yield peer
    await peer.stop()


def phone_gateway(redis_url: str, tmp_path: Path, name: str, asterisk: FakeAsterisk) -> Gateway:
    return Gateway(redis_url, tmp_path / name, HOTLINE_INSTANCE_ID=name, HOTLINE_PHONE="1", HOTLINE_AMI_PORT=str(asterisk.port),
                   HOTLINE_AMI_SECRET=AMI_SECRET, HOTLINE_AMI_RECONNECT_MAX_SECONDS="1", HOTLINE_PHONE_AGENTS=AGENTS,
                   HOTLINE_SPEECH_LOCAL_NODE="0", HOTLINE_AUDIOSOCKET_LISTEN=f"127.0.0.1:{free_port()}",
                   HOTLINE_TICKET_PREFIX="PL", HOTLINE_WORKERS="inline")


async def held_legs(redis: Redis) -> list[dict[str, Any]]:
    """Every leg assignment the speech nodes hold, with its stream id."""
    return [{**json.loads(v), "stream": k.decode()} for key in await redis.keys(speech_node_legs("*"))
            for k, v in (await redis.hgetall(key)).items()]


async def ticket_of(redis: Redis, linkedid: str) -> Ticket | None:
    ticket_id = await redis.get(keys.idempotency("phone", linkedid))
    return await Tickets(redis).get(ticket_id.decode()) if ticket_id else None


async def test_the_leader_killed_mid_utterance_hands_the_call_to_the_standby_and_the_transcript_goes_on(
        asterisk: FakeAsterisk, gateways: list[Gateway], nodes: list[SpeechNodeProc], desks: list[Desk],  # noqa: F811
        tmp_path: Path, redis_url: str) -> None:
    start_node(nodes, tmp_path, redis_url, "node-a")
    leader = phone_gateway(redis_url, tmp_path, "gw-a", asterisk)
    gateways.append(leader)
    leader.start(timeout=60)
    await asterisk.wait_for_clients(timeout=30)
    standby = phone_gateway(redis_url, tmp_path, "gw-b", asterisk)
    gateways.append(standby)
    standby.start(timeout=60)
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.get(LEADER_KEY) == b"gw-a"
        boss = await open_desk(standby.base, redis_url, "boss", "supervisor")  # on the instance that survives
        desks.append(boss)

        # The caller says two sentences; the leader dies in the second.
        call = await asterisk.inbound_call(caller_num="13812340000")
        clip = clip_8k()
        asterisk.set_leg_audio(call.caller_channel, clip + silence(1) + clip + silence(1), realtime=True, live=True)
        await asterisk.ring_agent(call, agent_endpoint="1001", interface="PJSIP/1001")
        await asterisk.answer(call)
        first = await boss.wait("call.final", call.linkedid, timeout=60)
        assert first["leg"] == "caller" and CLIP_TEXT in first["segment"]["text"]

        async def second_sentence_heard() -> list[dict[str, Any]]:
            after = boss.events[boss.events.index(first) + 1:]
            return [e for e in after if e.get("type") == "call.partial" and e.get("linkedid") == call.linkedid and e["text"]]
        await eventually(second_sentence_heard, bool, timeout=30)
        old_spies = [s for s in asterisk.spies if not s.ended]
        assert sorted(s.spied.name for s in old_spies if s.spied) == sorted([call.caller_channel, str(call.agent_channel)])
        seen = len(asterisk.actions)
        leader.kill()  # SIGKILL mid-utterance: the lease is left to run out

        # The standby leads: it logs in, resyncs, and spies the caller again on the node.
        def respied() -> AudioSpy | None:
            return next((s for s in asterisk.spies if s not in old_spies and s.started and s.spied is not None
                         and s.spied.name == call.caller_channel), None)
        await asterisk.wait_until(respied, timeout=60)
        assert any(a.first("Action") == "CoreShowChannels" for a in asterisk.actions[seen:])
        assert await redis.get(LEADER_KEY) == b"gw-b"
        # ... and the caller says a third sentence.
        asterisk.set_leg_audio(call.caller_channel, clip + silence(1), realtime=True, live=True)

        # The dead leader's spies are hung up while the call goes on: the node holds only the new legs.
        await asterisk.wait_until(lambda: all(s.ended for s in old_spies) or None, timeout=30)
        assert all(not ch.hungup for ch in (asterisk.find_channel(call.caller_channel), asterisk.find_channel(str(call.agent_channel))))
        old_streams = {str(s.uuid) for s in old_spies}
        legs = await eventually(lambda: held_legs(redis), lambda held: not old_streams & {h["stream"] for h in held}, timeout=30)
        assert sorted((h["linkedid"], h["leg"]) for h in legs) == [(call.linkedid, "agent"), (call.linkedid, "caller")]

        def resumed_and_third_sentence(t: Ticket | None) -> bool:
            done = history(t, "transcription_resumed") if t else []
            return bool(t and done) and any(
                s.leg == "caller" and s.start >= done[0]["to"] and CLIP_TEXT in s.text for s in t.transcript)  # type: ignore[union-attr]
        found = await eventually(lambda: ticket_of(redis, call.linkedid), resumed_and_third_sentence, timeout=60)
        assert found is not None
        ticket: Ticket = found
        assert history(ticket, "call_resynced")  # the takeover shows on the ticket
        interrupted = [d for d in history(ticket, "transcription_interrupted") if d["leg"] == "caller"]
        resumed = [d for d in history(ticket, "transcription_resumed") if d["leg"] == "caller"]
        assert len(interrupted) == 1 and len(resumed) == 1 and interrupted[0]["reason"] == "leader_lost"
        gap_from, gap_to = resumed[0]["from"], resumed[0]["to"]
        assert gap_from < gap_to
        caller = [s for s in ticket.transcript if s.leg == "caller"]
        assert CLIP_TEXT in "".join(s.text for s in caller if s.end <= gap_from)  # heard while gw-a led
        assert CLIP_TEXT in "".join(s.text for s in caller if s.start >= gap_to)  # heard since gw-b leads
        assert not [s for s in caller if s.end > gap_from and s.start < gap_to]

        # The desk on the surviving instance saw the gap open and close, and the words after it.
        gaps = [e for e in boss.of("call.transcription_gap", call.linkedid) if e["leg"] == "caller"]
        assert [e["state"] for e in gaps] == ["open", "closed"] and gaps[0]["reason"] == "leader_lost"

        async def words_after_the_gap() -> list[dict[str, Any]]:  # stored on the ticket first, then pushed
            return [e for e in boss.events[boss.events.index(gaps[1]):] if e.get("type") == "call.final"
                    and e.get("linkedid") == call.linkedid and CLIP_TEXT in e["segment"]["text"]]
        await eventually(words_after_the_gap, bool, timeout=20)
        async with boss.session.get(f"{standby.base}/readyz") as resp:
            ready = await resp.json()
        assert ready["checks"]["phone_lease"]["state"] == "leader" and ready["checks"]["phone"]["ami"] == "connected"

        await asterisk.hangup(call)
        ended = await eventually(lambda: ticket_of(redis, call.linkedid), lambda t: t is not None and bool(history(t, "call_ended")))
        assert ended is not None and ended.content.count(CLIP_TEXT) >= 2
        await boss.wait("call.ended", call.linkedid)
    finally:
        await redis.aclose()
