"""Speech nodes as real processes (`hotline speech-node`), each with the real Vosk model, beside
the gateway (the phone leader, in this process) and the byte-faithful Asterisk peer.

A node SIGKILLed in the middle of an utterance: the leader notices its heartbeat is gone,
originates the leg's spy to the other node, and the ticket keeps the words before, the words
after and the gap between. A node that fills up: a new call gets its caller leg only, the next
none, with the reason on the desk and in the metrics."""
from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.phone.keys import speech_node_legs
from gateway.ticket import Ticket
from tests.support.phone import CLIP_TEXT, Desk, PhoneRig, StartPhone, clip_8k, open_desk
from tests.support.processes import SpeechNodeProc
from tests.support.waiting import eventually


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * 8000) * 2)


@pytest.fixture
def nodes(tmp_path: Path, redis_url: str) -> Iterator[list[SpeechNodeProc]]:
    started: list[SpeechNodeProc] = []
    yield started
    for node in started:
        node.stop()


def start_node(nodes: list[SpeechNodeProc], tmp_path: Path, redis_url: str, name: str, **env: str) -> SpeechNodeProc:
    node = SpeechNodeProc(redis_url, tmp_path / name, name, **env)
    nodes.append(node)
    return node.start(timeout=60)


async def node_of_leg(rig: PhoneRig, nodes: list[SpeechNodeProc], linkedid: str, leg: str) -> SpeechNodeProc:
    """The node process whose legs hash holds this call's leg (node ids start with its name)."""
    async def probe() -> SpeechNodeProc | None:
        for key in await rig.redis.keys(speech_node_legs("*")):
            for raw in (await rig.redis.hgetall(key)).values():
                held = json.loads(raw)
                if held["linkedid"] == linkedid and held["leg"] == leg:
                    node_id = key.decode().split(":")[3]
                    return next(n for n in nodes if node_id.startswith(n.name + "-"))
        return None
    found = await eventually(probe, lambda n: n is not None, timeout=30)
    assert found is not None
    return found


async def metric(http: Any, base: str, name: str, **labels: str) -> float:
    async with http.get(f"{base}/metrics") as resp:
        body = await resp.text()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def history(ticket: Ticket, event: str) -> list[dict[str, Any]]:
    return [h.detail for h in ticket.history if h.event == event]


@pytest.mark.parametrize("end, reason", [("kill", "node_lost"), ("stop", "node_stopped")])
async def test_a_node_killed_mid_utterance_hands_the_leg_to_the_other_node_and_the_gap_is_marked(
        start_phone: StartPhone, desks: list[Desk], nodes: list[SpeechNodeProc], tmp_path: Path, redis_url: str, http: Any,
        end: str, reason: str) -> None:
    """kill: SIGKILL, the heartbeat runs out. stop: SIGTERM, the node drains (its streams end
    with their last words, and the leader moves the leg at once)."""
    start_node(nodes, tmp_path, redis_url, "node-a")
    start_node(nodes, tmp_path, redis_url, "node-b")
    rig = await start_phone(speech_local_node=False)
    boss = await open_desk(rig.base, rig.redis_url, "boss", "supervisor")
    desks.append(boss)

    # Three sentences: the first is heard whole, the node dies in the second, the third comes
    # after a pause long enough for the leg to have moved.
    clip = clip_8k()
    call = await rig.asterisk.inbound_call(caller_num="13812349999")
    rig.asterisk.set_leg_audio(call.caller_channel, clip + silence(1) + clip + silence(4) + clip + silence(1), realtime=True, live=True)
    await rig.asterisk.ring_agent(call, agent_endpoint="1001", interface="PJSIP/1001")
    first_node = await node_of_leg(rig, nodes, call.linkedid, "caller")
    other_node = next(n for n in nodes if n is not first_node)

    first = await boss.wait("call.final", call.linkedid, timeout=60)
    assert CLIP_TEXT in first["segment"]["text"]

    async def second_sentence_heard() -> list[dict[str, Any]]:
        after = boss.events[boss.events.index(first) + 1:]
        return [e for e in after if e.get("type") == "call.partial" and e.get("linkedid") == call.linkedid and e["text"]]
    await eventually(second_sentence_heard, bool, timeout=30)
    if end == "kill":
        first_node.kill()  # SIGKILL mid-utterance: no deregistration, no last words
    else:
        await asyncio.to_thread(first_node.stop)

    moved = await rig.asterisk.wait_action(
        "Originate", lambda a: a.first("Data").startswith(call.caller_channel + ",") and other_node.address in a.first("Channel"), timeout=20)
    assert moved.first("Application") == "ChanSpy"
    gap_open = await boss.wait("call.transcription_gap", call.linkedid, timeout=20)
    assert gap_open["state"] == "open" and gap_open["leg"] == "caller" and gap_open["reason"] == reason
    assert gap_open["node"].startswith("node-a-" if first_node.name == "node-a" else "node-b-")

    def resumed_and_third_sentence(t: Ticket) -> bool:
        done = history(t, "transcription_resumed")
        return bool(done) and any(s.leg == "caller" and s.start >= done[0]["to"] and CLIP_TEXT in s.text for s in t.transcript)
    ticket = await rig.ticket_until(call.linkedid, resumed_and_third_sentence, timeout=60)

    interrupted, resumed = history(ticket, "transcription_interrupted"), history(ticket, "transcription_resumed")
    assert len(interrupted) == 1 and len(resumed) == 1
    assert interrupted[0]["reason"] == reason and interrupted[0]["node"] == gap_open["node"]
    assert resumed[0]["lost_node"] == gap_open["node"] and resumed[0]["node"].startswith(other_node.name + "-")
    gap_from, gap_to = resumed[0]["from"], resumed[0]["to"]
    assert gap_from < gap_to
    caller = [s for s in ticket.transcript if s.leg == "caller"]
    before = [s for s in caller if s.end <= gap_from]
    after = [s for s in caller if s.start >= gap_to]
    assert CLIP_TEXT in "".join(s.text for s in before)  # the first sentence, heard by the node that died
    assert CLIP_TEXT in "".join(s.text for s in after)  # the third, heard by the other one
    assert not [s for s in caller if s.end > gap_from and s.start < gap_to]  # nothing claims to cover the gap
    closed = [e for e in boss.of("call.transcription_gap", call.linkedid) if e["state"] == "closed"]
    assert closed and closed[0]["from"] == gap_from and closed[0]["to"] == gap_to

    # /readyz names only the node that is left; the failover is counted.
    ready = await rig.readyz()
    assert [n["audiosocket"] for n in ready["checks"]["speech_nodes"]] == [other_node.address]
    assert await metric(http, rig.base, "hotline_speech_failovers_total", reason=reason) == 1.0

    await rig.asterisk.hangup(call)
    ended = await rig.ticket_until(call.linkedid, lambda t: any(h.event == "call_ended" for h in t.history))
    assert ended.content.count(CLIP_TEXT) >= 2


async def test_a_full_node_gives_the_next_call_the_caller_leg_only_then_none(
        start_phone: StartPhone, desks: list[Desk], nodes: list[SpeechNodeProc], tmp_path: Path, redis_url: str, http: Any) -> None:
    # Three places, one kept for callers: call 1 takes two (caller, agent), call 2 the last one.
    start_node(nodes, tmp_path, redis_url, "node-a", HOTLINE_SPEECH_NODE_CAPACITY="3")
    rig = await start_phone(speech_local_node=False)
    agent1 = await open_desk(rig.base, rig.redis_url, "agent1", "agent")
    boss = await open_desk(rig.base, rig.redis_url, "boss", "supervisor")
    desks += [agent1, boss]

    first = await rig.ringing_call(caller_num="13700000011")
    await rig.asterisk.answer(first)
    for channel in (first.caller_channel, first.agent_channel):
        await rig.asterisk.wait_action("Originate", lambda a, ch=channel: a.first("Data").startswith(ch + ","))

    second = await rig.ringing_call(caller_num="13700000012")
    rig.asterisk.set_leg_audio(second.caller_channel, clip_8k(), realtime=False)
    await rig.asterisk.answer(second)
    limited = await agent1.wait("call.transcription_limited", second.linkedid)
    assert limited["leg"] == "agent" and limited["reason"] == "full"
    final = await agent1.wait("call.final", second.linkedid, timeout=60)  # the caller leg is transcribed
    assert final["leg"] == "caller" and CLIP_TEXT in final["segment"]["text"]
    assert not [a for a in rig.asterisk.actions if a.first("Action") == "Originate" and a.first("Data").startswith(str(second.agent_channel) + ",")]

    third = await rig.asterisk.inbound_call(caller_num="13700000013")
    refused = await boss.wait("call.transcription_limited", third.linkedid)
    assert refused["leg"] == "caller" and refused["reason"] == "full"

    ticket = await rig.ticket_until(second.linkedid, lambda t: bool(history(t, "transcription_limited")))
    assert history(ticket, "transcription_limited")[0]["leg"] == "agent"
    calls = await agent1.session.get(f"{rig.base}/api/v1/agent/calls")
    live = {c["linkedid"]: c for c in (await calls.json())["calls"]}
    assert live[second.linkedid]["speech_limited"] == [{"leg": "agent", "reason": "full"}]
    assert await metric(http, rig.base, "hotline_speech_legs_total", leg="agent", outcome="full") == 1.0
    assert await metric(http, rig.base, "hotline_speech_legs_total", leg="caller", outcome="full") == 1.0
    assert await metric(http, rig.base, "hotline_speech_legs_total", leg="caller", outcome="admitted") == 2.0

    # What the node carries is what it took: both legs of the first call, the caller of the second.
    held = [json.loads(v) for key in await rig.redis.keys(speech_node_legs("*")) for v in (await rig.redis.hgetall(key)).values()]
    assert sorted((h["linkedid"], h["leg"]) for h in held) == sorted(
        [(first.linkedid, "caller"), (first.linkedid, "agent"), (second.linkedid, "caller")])
    await asyncio.gather(*(rig.asterisk.hangup(c) for c in (first, second)))


@pytest.mark.parametrize("graph, per_core", [("auto", 6), ("model", 2)])
async def test_a_node_takes_as_many_legs_as_its_graph_allows_unless_told(
        nodes: list[SpeechNodeProc], tmp_path: Path, redis_url: str, http: Any, graph: str, per_core: int) -> None:
    """The static graph (`make test` composes it) decodes a new leg for a fraction of the CPU of
    the model's own graph, so a node on it offers more places by default."""
    node = start_node(nodes, tmp_path, redis_url, f"cap-{graph}", HOTLINE_SPEECH_GRAPH=graph)
    async with http.get(f"http://127.0.0.1:{node.http_port}/readyz") as resp:
        checks = (await resp.json())["checks"]
    assert checks["graph"] == ("static" if graph == "auto" else "model")
    assert checks["capacity"] == per_core * (os.cpu_count() or 1)
    told = start_node(nodes, tmp_path, redis_url, f"told-{graph}", HOTLINE_SPEECH_GRAPH=graph, HOTLINE_SPEECH_NODE_CAPACITY="3")
    async with http.get(f"http://127.0.0.1:{told.http_port}/readyz") as resp:
        assert (await resp.json())["checks"]["capacity"] == 3
