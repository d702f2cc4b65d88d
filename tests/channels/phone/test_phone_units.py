"""Phone channel pieces that need no sockets: call tracking over real recorded AMI traffic,
agent mapping, and reading fields out of a transcript."""
from __future__ import annotations

import pytest

from channels.phone import assist
from channels.phone.agents import AgentDirectory
from channels.phone.calls import CallTracker, channel_interface
from gateway.phone_numbers import phone_in_text
from tests.support.paths import REPO

CAPTURES = REPO.parent / "shared" / "captures" / "ami"


def read_capture(name: str) -> list[dict[str, str]]:
    """The recorded wire bytes, split exactly as AMI frames them (CRLF lines, blank line)."""
    raw = (CAPTURES / name).read_bytes().decode("utf-8")
    events = []
    for block in raw.split("\r\n\r\n"):
        if block.strip():
            events.append(dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in block.split("\r\n")))
    return events


# In the recordings the agents are the SIP phones 150010002/150010003.
AGENTS = AgentDirectory({"SIP/150010002": "wang", "SIP/150010003": "li"})


def replay(name: str) -> tuple[CallTracker, list[tuple[str, dict]]]:
    tracker = CallTracker(AGENTS.lookup, ["voipgrid_in"])
    updates = []
    for event in read_capture(name):
        updates += [(u.kind, dict(u.detail)) for u in tracker.handle(event)]
    return tracker, updates


def kinds(updates: list[tuple[str, dict]]) -> list[str]:
    return [k for k, _ in updates if k != "leg_ended"]


def test_recorded_queue_call_is_one_inbound_call_answered_by_the_mapped_agent() -> None:
    tracker, updates = replay("queue__queue_simple.ami")
    # The recording has no Queue*/Agent* events: both phones ring (DialBegin behind Local/
    # pairs), li's is busy, wang answers.
    assert kinds(updates) == ["call_started", "agent_ringing", "agent_ringing", "agent_ring_stopped", "agent_connected", "ended"]
    assert [d["user"] for k, d in updates if k == "agent_ringing"] == ["wang", "li"]
    assert [d["user"] for k, d in updates if k == "agent_ring_stopped"] == ["li"]
    connected = dict(updates)["agent_connected"]
    assert connected["user"] == "wang" and connected["channel"] == "SIP/150010002-00000026"
    ended = dict(updates)["ended"]
    assert ended["cause"] == 16
    assert tracker.calls == {}  # nothing left behind after the hangup


def test_recorded_queue_call_ringing_several_agents_connects_once() -> None:
    _, updates = replay("queue__queue_group.ami")
    assert kinds(updates).count("agent_connected") == 1
    assert kinds(updates)[0] == "call_started" and kinds(updates)[-1] == "ended"


def test_recorded_caller_who_hangs_up_in_the_queue_is_abandoned_without_an_agent() -> None:
    _, updates = replay("queue__queue_a_cancel.ami")
    assert "agent_connected" not in kinds(updates)
    assert kinds(updates)[0] == "call_started" and kinds(updates)[-1] == "ended"


@pytest.mark.parametrize("name", ["simple__ab_a_cancel.ami", "simple__ab_callgroup.ami", "simple__ab_reject.ami",
                                  "simple__ab_success_a_hangup.ami", "simple__ab_success_b_hangup.ami"])
def test_recorded_internal_calls_are_not_citizen_calls(name: str) -> None:
    tracker, updates = replay(name)
    assert kinds(updates) == []
    assert tracker.calls == {}


def test_unknown_events_and_missing_fields_are_ignored() -> None:
    tracker = CallTracker(AGENTS.lookup, ["from-pstn"])
    assert tracker.handle({"Event": "SomethingNew", "Privilege": "call,all"}) == []
    assert tracker.handle({"Event": "Hangup"}) == []
    # Events cut short (no ids, garbage values) change nothing and raise nothing.
    for event in ({"Event": "AgentConnect", "Channel": "PJSIP/x-00000001"}, {"Event": "Hangup", "Cause": "abc", "Linkedid": "9.9"},
                  {"Event": "BlindTransfer", "Result": "Success"}, {"Event": "QueueCallerJoin", "Queue": "hotline"}):
        assert tracker.handle(event) == []
    assert tracker.calls == {}


def test_spy_channels_are_never_calls() -> None:
    tracker = CallTracker(AGENTS.lookup, ["from-pstn"])
    spy = {"Event": "Newchannel", "Channel": "AudioSocket/127.0.0.1:9092-0b5e6a7c-1d2f-4e3a-9b8c-7d6e5f4a3b2c",
           "Uniqueid": "1.5", "Linkedid": "1.5", "Context": "from-pstn", "CallerIDNum": "<unknown>"}
    assert tracker.handle(spy) == []
    assert tracker.calls == {}


def test_channel_interface_strips_the_sequence_suffix() -> None:
    assert channel_interface("PJSIP/1001-0000002a") == "PJSIP/1001"
    assert channel_interface("Local/1001@agents-00000016;2") == "Local/1001@agents"
    assert channel_interface("PJSIP/trunk-a") == "PJSIP/trunk-a"


def test_agent_directory_matches_interface_extension_and_member_name() -> None:
    directory = AgentDirectory.parse("PJSIP/1001=zhang, 1002=li, 坐席王=wang")
    assert directory.lookup(interface="PJSIP/1001") == "zhang"
    assert directory.lookup(channel="PJSIP/1002-000000ab") == "li"
    assert directory.lookup(channel="SIP/1002-000000ab") == "li"
    assert directory.lookup(member_name="坐席王") == "wang"
    assert directory.lookup(interface="PJSIP/1009", channel="PJSIP/1009-00000001") is None
    with pytest.raises(ValueError):
        AgentDirectory.parse("PJSIP/1001")


@pytest.mark.parametrize("said, expected", [
    ("我的电话是一三八一二三四五六七八", "+8613812345678"),
    ("回拨号码 138 1234 5678 谢谢", "+8613812345678"),
    ("打幺三九零零零零一一一一", "+8613900001111"),
    ("座机零一零六五一二三四五六", "+861065123456"),
    ("今年三十八岁", None),
])
def test_spoken_phone_numbers(said: str, expected: str | None) -> None:
    assert phone_in_text(said) == expected


def test_prefill_links_each_field_to_the_first_utterance_that_settles_it() -> None:
    utterances = [
        assist.Utterance(0, "你好我想反映个问题", 1.0),
        assist.Utterance(1, "我家住朝阳区望京街道花家地小区", 4.0),
        assist.Utterance(2, "我要投诉物业一直不修", 9.0),
        assist.Utterance(3, "电话是一三九一一一一二二二二", 12.0),
        assist.Utterance(4, "对了其实是海淀区", 15.0),
    ]
    found = assist.prefill(utterances)
    assert found["location"]["value"]["district"] == "朝阳区"
    assert found["location"]["segment"] == 1  # the later mention of 海淀区 does not overwrite it
    assert found["kind"] == {"value": "complaint", "segment": 2, "text": "我要投诉物业一直不修", "start": 9.0}
    assert found["callback_phone"]["value"] == "+8613911112222"
    assert found["callback_phone"]["segment"] == 3


def test_prefill_read_final_by_final_finds_what_reading_the_whole_call_finds() -> None:
    """The leader reads each new final once (PrefillScan); the answer after every final must be
    what reading the call so far from the start gives."""
    utterances = [
        assist.Utterance(0, "喂你好", 0.5),
        assist.Utterance(1, "我要投诉楼下饭馆油烟太大", 3.0),
        assist.Utterance(2, "我的电话是一三八零零一三八零零零", 8.0),
        assist.Utterance(3, "地址是东城区东四街道", 12.0),
        assist.Utterance(4, "其实我想咨询一下", 15.0),
    ]
    scan = assist.PrefillScan()
    heard: list[assist.Utterance] = []
    for utterance in utterances:
        heard.append(utterance)
        assert scan.update(heard) == assist.prefill(list(heard))
    assert scan.scanned == len(utterances)
    assert set(scan.update(heard)) == {"kind", "callback_phone", "location"}
