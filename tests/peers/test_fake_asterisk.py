"""The fake Asterisk must be byte-exact: checked with raw sockets and with panoramisk, the
client the gateway uses, over real TCP. Waits are on conditions, never fixed sleeps."""
from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from panoramisk import Manager

from peers.asterisk import (
    KIND_DTMF,
    KIND_SLIN,
    KIND_UUID,
    FakeAsterisk,
    encode_frame,
    read_frame,
    stream_audiosocket,
)

SECRET = "s3cret"
CHANNEL_BLOCK = ["Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                 "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid", "Linkedid"]
PJSIP_NAME = re.compile(r"^PJSIP/[\w-]+-[0-9a-f]{8}$")
UNIQUEID = re.compile(r"^\d+\.\d+$")


def ami(*pairs: tuple[str, str], eol: str = "\r\n") -> bytes:
    return ("".join(f"{k}: {v}{eol}" for k, v in pairs) + eol).encode()


def parse(block: bytes) -> list[tuple[str, str]]:
    assert block.endswith(b"\r\n\r\n")
    return [tuple(line.split(": ", 1)) for line in block[:-4].decode().split("\r\n")]  # type: ignore[misc]


class RawAmi:
    """A client that writes and reads the bytes itself."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, banner: bytes) -> None:
        self.reader, self.writer, self.banner = reader, writer, banner

    @classmethod
    async def open(cls, fake: FakeAsterisk) -> RawAmi:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        banner = await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)
        return cls(reader, writer, banner)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def block(self) -> bytes:
        return await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)

    async def message(self) -> dict[str, str]:
        return dict(parse(await self.block()))

    async def login(self, events: str = "on") -> None:
        await self.send(ami(("Action", "Login"), ("Username", "hotline"), ("Secret", SECRET), ("Events", events)))
        assert (await self.message())["Message"] == "Authentication accepted"
        if events == "on":
            assert (await self.message())["Event"] == "FullyBooted"

    async def until(self, accept: Callable[[dict[str, str]], bool]) -> dict[str, str]:
        while True:
            message = await self.message()
            if accept(message):
                return message

    async def at_eof(self) -> bool:
        """True once the server closed (or reset) the connection; closes our side too."""
        try:
            return await asyncio.wait_for(self.reader.read(), 5) == b""
        except ConnectionResetError:
            return True
        finally:
            await self.close()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


class AudioSocketServer:
    """The gateway's side of AudioSocket, reduced to recording what each connection sent."""

    def __init__(self) -> None:
        self.streams: list[list[tuple[int, bytes]]] = []
        self.ended: list[asyncio.Event] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.connected = asyncio.Event()
        self.close_after_uuid = False
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames: list[tuple[int, bytes]] = []
        done = asyncio.Event()
        self.streams.append(frames)
        self.ended.append(done)
        self.writers.append(writer)
        self.connected.set()
        try:
            while True:
                frames.append(await read_frame(reader))
                if self.close_after_uuid:
                    break
        except asyncio.IncompleteReadError as exc:
            assert exc.partial == b"", "EOF must come at a message boundary"
        finally:
            done.set()
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    asterisk = FakeAsterisk(secret=SECRET, login_failure_delay=0.05)
    await asterisk.start()
    yield asterisk
    await asterisk.stop()


@pytest.fixture
async def audio_server() -> AsyncIterator[AudioSocketServer]:
    server = AudioSocketServer()
    await server.start()
    yield server
    await server.stop()


class Panoramisk:
    """panoramisk's Manager logged in to the fake, with every event it dispatches collected."""

    def __init__(self, fake: FakeAsterisk, **config: object) -> None:
        self.logged_in = asyncio.Event()
        self.events: list[dict[str, str]] = []
        self.arrived = asyncio.Event()
        self.manager = Manager(host="127.0.0.1", port=fake.port, username="hotline", secret=SECRET,
                               on_login=lambda _m: self.logged_in.set(), **{"ping_delay": 10, **config})
        self.manager.register_event("*", self._collect)

    def _collect(self, _manager: Manager, message: object) -> None:
        self.events.append(dict(message))  # type: ignore[call-overload]
        self.arrived.set()

    async def connect(self) -> Panoramisk:
        self.manager.connect()
        await asyncio.wait_for(self.logged_in.wait(), 5)
        return self

    async def wait_for(self, accept: Callable[[list[dict[str, str]]], bool], timeout: float = 5) -> None:
        async def loop() -> None:
            while not accept(self.events):
                self.arrived.clear()
                await self.arrived.wait()
        await asyncio.wait_for(loop(), timeout)

    def names(self) -> list[str]:
        return [event["Event"] for event in self.events if event["Event"] != "FullyBooted"]


@pytest.fixture
async def pano(fake: FakeAsterisk) -> AsyncIterator[Panoramisk]:
    client = await Panoramisk(fake).connect()
    yield client
    client.manager.close()


def event_names(fake: FakeAsterisk, start: int = 0) -> list[str]:
    return [dict(fields)["Event"] for fields in fake.events[start:]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- framing, login, errors ----------------------------------------------------------------------

@pytest.mark.parametrize("version, ami_version", [(13, "2.10.6"), (15, "4.0.3"), (16, "5.0.5"), (18, "7.0.3"), (20, "9.0.0"),
                                                  (21, "10.0.0"), (22, "11.0.0")])
async def test_banner_is_one_line_without_a_blank_line(version: int, ami_version: str) -> None:
    asterisk = FakeAsterisk(secret=SECRET, version=version)
    await asterisk.start()
    try:
        client = await RawAmi.open(asterisk)
        assert client.banner == f"Asterisk Call Manager/{ami_version}\r\n".encode()
        await client.send(ami(("Action", "Ping"), ("ActionID", "p1")))
        # the next bytes are the answer: nothing (no empty line) came between banner and answer
        assert await client.block() == b"Response: Error\r\nActionID: p1\r\nMessage: Permission denied\r\n\r\n"
        await client.close()
    finally:
        await asterisk.stop()


async def test_plain_login_answers_then_sends_fully_booted(fake: FakeAsterisk) -> None:
    client = await RawAmi.open(fake)
    await client.send(ami(("Action", "Login"), ("ActionID", "l1"), ("Username", "hotline"), ("Secret", SECRET)))
    assert await client.block() == b"Response: Success\r\nActionID: l1\r\nMessage: Authentication accepted\r\n\r\n"
    booted = parse(await client.block())
    assert [k for k, _ in booted] == ["Event", "Privilege", "Uptime", "LastReload", "Status"]
    assert dict(booted) | {"Uptime": "0", "LastReload": "0"} == {
        "Event": "FullyBooted", "Privilege": "system,all", "Uptime": "0", "LastReload": "0", "Status": "Fully Booted"}
    await client.send(ami(("Action", "Login"), ("Username", "hotline"), ("Secret", SECRET)))
    assert await client.block() == b"Response: Success\r\nMessage: Already authenticated\r\n\r\n"
    await fake.wait_for_clients(timeout=10)
    await client.close()


async def test_md5_login_with_lowercase_headers_and_bare_lf(fake: FakeAsterisk) -> None:
    client = await RawAmi.open(fake)
    await client.send(ami(("Action", "Challenge"), ("ActionID", "c1")))
    assert await client.block() == b"Response: Error\r\nActionID: c1\r\nMessage: Must specify AuthType\r\n\r\n"
    await client.send(ami(("action", "Challenge"), ("authtype", "MD5"), ("actionid", "c2"), eol="\n"))
    reply = parse(await client.block())
    assert [k for k, _ in reply] == ["Response", "ActionID", "Challenge"]
    challenge = dict(reply)["Challenge"]
    assert challenge.isdigit()
    key = hashlib.md5((challenge + SECRET).encode()).hexdigest()
    await client.send(ami(("Action", "Login"), ("AuthType", "MD5"), ("Username", "HOTLINE"), ("Key", key)))
    assert await client.message() == {"Response": "Success", "Message": "Authentication accepted"}
    await client.close()


async def test_bad_login_waits_answers_error_then_closes(fake: FakeAsterisk) -> None:
    client = await RawAmi.open(fake)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.send(ami(("Action", "Login"), ("ActionID", "x"), ("Username", "hotline"), ("Secret", "wrong")))
    assert await client.block() == b"Response: Error\r\nActionID: x\r\nMessage: Authentication failed\r\n\r\n"
    assert loop.time() - started >= 0.05
    assert await client.at_eof()
    bad_md5 = await RawAmi.open(fake)  # an MD5 key without a challenge fails too
    await bad_md5.send(ami(("Action", "Login"), ("AuthType", "md5"), ("Username", "hotline"), ("Key", "0" * 32)))
    assert (await bad_md5.message())["Message"] == "Authentication failed"
    assert await bad_md5.at_eof()


async def test_errors_ping_repeated_headers_and_logoff(fake: FakeAsterisk) -> None:
    client = await RawAmi.open(fake)
    await client.login()
    await client.send(ami(("ActionID", "m1"), ("Foo", "bar")))
    assert await client.block() == b"Response: Error\r\nActionID: m1\r\nMessage: Missing action in request\r\n\r\n"
    await client.send(ami(("Action", "FooBar")))
    assert await client.block() == (b"Response: Error\r\nMessage: Invalid/unknown command: FooBar. "
                                    b"Use Action: ListCommands to show available commands.\r\n\r\n")
    await client.send(ami(("Action", "Ping"), ("ActionID", "p2"), ("Variable", "a=1"), ("variable", "b=2")))
    pong = parse(await client.block())
    assert [k for k, _ in pong] == ["Response", "ActionID", "Ping", "Timestamp"]
    assert dict(pong)["Ping"] == "Pong" and re.fullmatch(r"\d+\.\d{6}", dict(pong)["Timestamp"])
    recorded = await fake.wait_action("ping", lambda a: a.get("ActionID") == "p2")
    assert recorded["Variable"] == ["a=1", "b=2"] and recorded["actionid"] == "p2"
    await client.send(ami(("Action", "Logoff"), ("ActionID", "bye")))
    assert await client.block() == b"Response: Goodbye\r\nActionID: bye\r\nMessage: Thanks for all the fish.\r\n\r\n"
    assert await client.at_eof()


async def test_panoramisk_logs_in_and_pings(fake: FakeAsterisk) -> None:
    client = await Panoramisk(fake, ping_delay=0, ping_interval=1).connect()
    try:
        login = await fake.wait_action("Login")
        assert login["Username"] == "hotline" and login["Events"] == "on"
        await fake.wait_action("Ping", timeout=10)  # panoramisk's own keepalive got an answer
        pong = await client.manager.send_action({"Action": "Ping"}, as_list=False)
        assert pong.success and pong.ping == "Pong"
        assert client.manager.protocol.version == "9.0.0"
        assert client.events[0]["Event"] == "FullyBooted"
    finally:
        client.manager.close()


# -- channel model ---------------------------------------------------------------------------------

async def test_core_show_channels_bytes_and_actionid_on_every_item(fake: FakeAsterisk) -> None:
    call = await fake.ring_agent(await fake.inbound_call())
    await fake.answer(call)
    client = await RawAmi.open(fake)
    await client.login(events="off")
    await client.send(ami(("Action", "CoreShowChannels"), ("ActionID", "csc-1")))
    assert await client.block() == (b"Response: Success\r\nActionID: csc-1\r\nEventList: start\r\n"
                                    b"Message: Channels will follow\r\n\r\n")
    items = [parse(await client.block()) for _ in range(2)]
    for item in items:
        keys = [k for k, _ in item]
        assert keys == ["Event", "ActionID"] + CHANNEL_BLOCK + ["Application", "ApplicationData", "Duration",
                                                               "BridgeId"]
        assert dict(item)["ActionID"] == "csc-1"
        assert re.fullmatch(r"\d\d:\d\d:\d\d", dict(item)["Duration"])
    rows = {dict(item)["Channel"]: dict(item) for item in items}
    assert rows[call.caller_channel]["Application"] == "Queue"
    assert rows[call.agent_channel]["ApplicationData"] == "(Outgoing Line)"  # type: ignore[index]
    assert {row["BridgeId"] for row in rows.values()} == {call.bridge_id}
    assert {row["Linkedid"] for row in rows.values()} == {call.uniqueid}
    assert await client.block() == (b"Event: CoreShowChannelsComplete\r\nActionID: csc-1\r\n"
                                    b"EventList: Complete\r\nListItems: 2\r\n\r\n")
    await client.close()


async def test_core_show_channels_through_panoramisk(fake: FakeAsterisk, pano: Panoramisk) -> None:
    call = await fake.inbound_call(caller_num="13900001111")
    listing = await pano.manager.send_action({"Action": "CoreShowChannels"}, as_list=True)
    assert [m.get("Event") or m.response for m in listing] == ["Success", "CoreShowChannel", "CoreShowChannelsComplete"]
    assert listing[1].channel == call.caller_channel and listing[1].calleridnum == "13900001111"
    assert listing[2].listitems == "1"
    assert len({m.actionid for m in listing}) == 1
    assert not [e for e in pano.events if e["Event"].startswith("CoreShowChannel")]  # went to the action


# -- scenarios ---------------------------------------------------------------------------------------

QUEUE_CALL = [
    "Newchannel", "VarSet", "Newstate", "Newexten", "Newexten", "Newstate", "Newexten", "QueueCallerJoin",
    "MusicOnHoldStart",
    "Newchannel", "Newexten", "AgentCalled", "DialBegin", "Newstate",
    "Newstate", "DialEnd", "NewConnectedLine", "MusicOnHoldStop", "QueueCallerLeave", "VarSet", "AgentConnect",
    "BridgeCreate", "BridgeEnter", "BridgeEnter",
    "HangupRequest", "AgentComplete", "BridgeLeave", "BridgeLeave", "BridgeDestroy", "Hangup", "Hangup",
]


async def test_inbound_queue_call_reaches_panoramisk_in_order(fake: FakeAsterisk, pano: Panoramisk) -> None:
    call = await fake.inbound_call(caller_num="13812345678", did="12345", queue="hotline")
    await fake.ring_agent(call, agent_endpoint="1001", member_name="坐席1001", interface="PJSIP/1001")
    await fake.answer(call)
    await fake.hangup(call, by="caller")
    await pano.wait_for(lambda events: sum(e["Event"] == "Hangup" for e in events) == 2)
    assert pano.names() == QUEUE_CALL
    events = [e for e in pano.events if e["Event"] != "FullyBooted"]
    assert {e["Linkedid"] for e in events if "Linkedid" in e} == {call.uniqueid}
    assert {e.get("DestLinkedid") for e in events if "DestLinkedid" in e} == {call.uniqueid}
    assert all(PJSIP_NAME.match(e["Channel"]) for e in events if "Channel" in e)
    assert UNIQUEID.match(call.uniqueid)
    by_name = {e["Event"]: e for e in events}
    assert by_name["QueueCallerJoin"]["Privilege"] == "agent,all"
    assert (by_name["QueueCallerJoin"]["Position"], by_name["QueueCallerJoin"]["Count"]) == ("1", "1")
    assert by_name["VarSet"]["Privilege"] == "dialplan,all"
    assert by_name["Newchannel"]["Privilege"] == "call,all"
    called = by_name["AgentCalled"]
    assert (called["Queue"], called["MemberName"], called["Interface"]) == ("hotline", "坐席1001", "PJSIP/1001")
    assert called["DestChannel"] == call.agent_channel and called["Channel"] == call.caller_channel
    assert called["CallerIDName"] == "<unknown>"
    assert by_name["DialEnd"]["DialStatus"] == "ANSWER"
    assert by_name["AgentComplete"]["Reason"] == "caller"
    assert {"HoldTime", "TalkTime"} <= set(by_name["AgentComplete"])
    hangups = [e for e in events if e["Event"] == "Hangup"]
    assert [h["Channel"] for h in hangups] == [call.caller_channel, call.agent_channel]
    assert {(h["Cause"], h["Cause-txt"]) for h in hangups} == {("16", "Normal Clearing")}
    assert "TechCause" not in hangups[0]  # suppressed for a nominal hangup
    assert not fake.channels


async def test_event_wire_layout(fake: FakeAsterisk) -> None:
    call = await fake.ring_agent(await fake.inbound_call())
    await fake.answer(call)
    first = fake.events[0]
    assert [k for k, _ in first] == ["Event", "Privilege"] + CHANNEL_BLOCK
    assert dict(first)["ChannelStateDesc"] == "Down" and dict(first)["CallerIDName"] == "<unknown>"
    called = next(f for f in fake.events if dict(f)["Event"] == "AgentCalled")
    assert [k for k, _ in called] == (["Event", "Privilege"] + CHANNEL_BLOCK + ["Dest" + k for k in CHANNEL_BLOCK]
                                      + ["Queue", "Interface", "MemberName"])
    enter = next(f for f in fake.events if dict(f)["Event"] == "BridgeEnter")
    assert [k for k, _ in enter][:9] == ["Event", "Privilege", "BridgeUniqueid", "BridgeType", "BridgeTechnology",
                                         "BridgeCreator", "BridgeName", "BridgeNumChannels", "BridgeVideoSourceMode"]


async def test_abandon_while_an_agent_rings(fake: FakeAsterisk) -> None:
    call = await fake.ring_agent(await fake.inbound_call())
    start = len(fake.events)
    await fake.abandon(call)
    assert event_names(fake, start) == ["HangupRequest", "DialEnd", "QueueCallerAbandon", "QueueCallerLeave", "VarSet",
                                        "Hangup", "MusicOnHoldStop", "Hangup"]
    abandon = await fake.wait_event("QueueCallerAbandon")
    assert (abandon["Position"], abandon["OriginalPosition"]) == ("1", "1") and "HoldTime" in abandon
    assert (await fake.wait_event("DialEnd", start=start))["DialStatus"] == "CANCEL"
    agent_hangup = await fake.wait_event("Hangup", lambda e: e["Channel"] == call.agent_channel)
    assert agent_hangup["TechCause"] == "487"  # version 20 reports the CANCEL's SIP code


async def test_blind_transfer_then_the_target_answers(fake: FakeAsterisk) -> None:
    call = await fake.ring_agent(await fake.inbound_call())
    await fake.answer(call)
    agent = call.agent_channel
    start = len(fake.events)
    await fake.blind_transfer(call, exten="2001", context="transfer")
    assert event_names(fake, start) == ["BlindTransfer", "AgentComplete", "BridgeLeave", "BridgeLeave",
                                        "BridgeDestroy", "Hangup", "Newexten", "Newchannel", "DialBegin", "Newstate"]
    transfer = dict(fake.events[start])
    assert (transfer["Result"], transfer["TransfererChannel"], transfer["TransfereeChannel"]) == (
        "Success", agent, call.caller_channel)
    assert (transfer["IsExternal"], transfer["Context"], transfer["Extension"]) == ("Yes", "transfer", "2001")
    assert dict(fake.events[start + 1])["Reason"] == "transfer"
    assert call.agent_channel and call.agent_channel.startswith("PJSIP/2001-")
    start = len(fake.events)
    await fake.answer(call)
    await fake.hangup(call, by="agent")
    assert event_names(fake, start) == ["Newstate", "DialEnd", "NewConnectedLine", "BridgeCreate", "BridgeEnter",
                                        "BridgeEnter", "HangupRequest", "BridgeLeave", "BridgeLeave", "BridgeDestroy",
                                        "Hangup", "Hangup"]


async def test_attended_transfer_links_the_target_to_the_call(fake: FakeAsterisk) -> None:
    call = await fake.ring_agent(await fake.inbound_call())
    await fake.answer(call)
    agent, bridge = call.agent_channel, call.bridge_id
    start = len(fake.events)
    await fake.attended_transfer(call, target_endpoint="2002")
    names = event_names(fake, start)
    tail = names[names.index("AttendedTransfer"):]
    assert tail == ["AttendedTransfer", "AgentComplete", "BridgeLeave", "BridgeLeave", "BridgeLeave", "BridgeDestroy",
                    "BridgeEnter", "MusicOnHoldStop", "Hangup", "Hangup"]
    consult = await fake.wait_event("Newchannel", lambda e: e["Channel"].startswith("PJSIP/1001-"), start=start)
    assert consult["Linkedid"] == consult["Uniqueid"] != call.linkedid  # the consultation is a call of its own
    transfer = await fake.wait_event("AttendedTransfer")
    assert (transfer["OrigTransfererChannel"], transfer["OrigBridgeUniqueid"], transfer["DestBridgeUniqueid"]) == (
        agent, bridge, bridge)
    assert transfer["SecondTransfererChannel"] == consult["Channel"]
    assert transfer["TransfereeChannel"] == call.caller_channel
    assert transfer["TransferTargetChannel"] == call.agent_channel and transfer["DestType"] == "Bridge"
    rejoin = dict(fake.events[start + names.index("BridgeEnter", names.index("AttendedTransfer"))])
    assert rejoin["Channel"] == call.agent_channel and rejoin["Linkedid"] == call.linkedid
    assert set(fake.channels) == {call.caller_channel, call.agent_channel}


# -- AudioSocket spies ----------------------------------------------------------------------------------

async def test_originate_spy_streams_the_leg_then_eof(fake: FakeAsterisk, pano: Panoramisk,
                                                      audio_server: AudioSocketServer) -> None:
    call = await fake.ring_agent(await fake.inbound_call())
    await fake.answer(call)
    pcm = bytes(range(256)) * 5  # 1280 bytes = 4 frames
    fake.set_leg_audio(call.caller_channel, pcm, realtime=False)
    stream_uuid = uuid.uuid4()
    service = f"127.0.0.1:{audio_server.server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    replies = await pano.manager.send_action({
        "Action": "Originate", "ActionID": "spy-1", "Channel": f"AudioSocket/{service}/{stream_uuid}",
        "Application": "ChanSpy", "Data": f"{call.caller_channel},qEou", "Async": "true"}, as_list=True)
    ack, outcome = replies
    assert (ack.response, ack.message, ack.actionid) == ("Success", "Originate successfully queued", "spy-1")
    assert (outcome.event, outcome.actionid, outcome.response, outcome.reason) == (
        "OriginateResponse", "spy-1", "Success", "4")
    assert outcome.channel == f"AudioSocket/{service}-{stream_uuid}"
    assert (outcome.application, outcome.data) == ("ChanSpy", f"{call.caller_channel},qEou")
    assert UNIQUEID.match(outcome.uniqueid)
    assert await fake.wait_audio_done(str(stream_uuid), timeout=20)
    listing = await pano.manager.send_action({"Action": "CoreShowChannels"}, as_list=True)
    spy_row = next(m for m in listing if m.channel == outcome.channel)
    assert (spy_row.application, spy_row.applicationdata) == ("ChanSpy", f"{call.caller_channel},qEou")
    await fake.hangup(call, by="caller")
    await asyncio.wait_for(audio_server.ended[0].wait(), 5)
    frames = audio_server.streams[0]
    assert frames[0] == (KIND_UUID, stream_uuid.bytes)
    assert all(kind == KIND_SLIN and len(payload) == 320 for kind, payload in frames[1:])
    assert b"".join(payload for _, payload in frames[1:5]) == pcm
    await pano.wait_for(lambda events: any(e["Event"] == "Hangup" and e["Channel"] == outcome.channel
                                           for e in events))
    names = pano.names()
    assert names.index("ChanSpyStart") < names.index("ChanSpyStop") < len(names) - 1
    start = next(e for e in pano.events if e["Event"] == "ChanSpyStart")
    assert (start["SpyerChannel"], start["SpyeeChannel"]) == (outcome.channel, call.caller_channel)
    assert next(e for e in pano.events if e["Event"] == "Newchannel" and e["Channel"] == outcome.channel)
    assert outcome.channel not in fake.channels


async def test_spy_by_uniqueid_in_real_time_stops_when_the_gateway_hangs_up(
        fake: FakeAsterisk, audio_server: AudioSocketServer) -> None:
    call = await fake.inbound_call()
    client = await RawAmi.open(fake)
    await client.login(events="off")
    stream_uuid = uuid.uuid4()
    port = audio_server.server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await client.send(ami(("Action", "Originate"), ("Channel", f"AudioSocket/127.0.0.1:{port}/{stream_uuid}"),
                          ("Application", "ChanSpy"), ("Data", f"{call.uniqueid},qEou"), ("Async", "yes")))
    assert await client.message() == {"Response": "Success", "Message": "Originate successfully queued"}
    spy_started = await fake.wait_event("ChanSpyStart")
    assert spy_started["SpyeeUniqueid"] == call.uniqueid
    await asyncio.wait_for(audio_server.connected.wait(), 5)
    audio_server.writers[0].write(encode_frame(0x00, b""))  # the gateway ends the stream
    await fake.wait_event("Hangup", lambda e: e["Channel"].startswith("AudioSocket/"))
    await asyncio.wait_for(audio_server.ended[0].wait(), 5)
    assert fake.spies[0].end_reason == "server sent terminate"
    assert call.caller_channel in fake.channels  # the call itself goes on
    await client.close()


async def test_originate_failures(fake: FakeAsterisk, audio_server: AudioSocketServer) -> None:
    call = await fake.inbound_call()
    client = await RawAmi.open(fake)
    await client.login(events="off")
    refused = f"AudioSocket/127.0.0.1:{free_port()}/{uuid.uuid4()}"
    port = audio_server.server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    missing = f"AudioSocket/127.0.0.1:{port}/{uuid.uuid4()}"
    for action_id, channel, spied in (("f1", refused, call.caller_channel), ("f2", missing, "PJSIP/nobody-00000000")):
        await client.send(ami(("Action", "Originate"), ("ActionID", action_id), ("Channel", channel),
                              ("Application", "ChanSpy"), ("Data", f"{spied},qEou"), ("Async", "true")))
        assert (await client.message())["Message"] == "Originate successfully queued"
        outcome = await fake.wait_event("OriginateResponse", lambda e, aid=action_id: e["ActionID"] == aid)
        assert (outcome["Response"], outcome["Reason"], outcome["Channel"], outcome["Uniqueid"]) == (
            "Failure", "0", channel, "<unknown>")
    assert not audio_server.streams
    await client.send(ami(("Action", "Originate"), ("Channel", "nonsense"), ("Application", "ChanSpy")))
    assert await client.message() == {"Response": "Error", "Message": "Invalid channel"}
    await client.send(ami(("Action", "Originate"), ("Channel", missing), ("Application", "ChanSpy"),
                          ("Data", "PJSIP/nobody,qEou")))  # synchronous: the error comes in the response
    assert await client.message() == {"Response": "Error", "Message": "Originate failed"}
    await client.close()


async def test_asterisk_16_has_no_audiosocket_and_no_tenantid(audio_server: AudioSocketServer) -> None:
    asterisk = FakeAsterisk(secret=SECRET, version=16, tenantid="t1")
    await asterisk.start()
    try:
        call = await asterisk.inbound_call()
        assert "Tenantid" not in dict(asterisk.events[0])
        port = audio_server.server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        client = await RawAmi.open(asterisk)
        await client.login(events="off")
        await client.send(ami(("Action", "Originate"), ("Channel", f"AudioSocket/127.0.0.1:{port}/{uuid.uuid4()}"),
                              ("Application", "ChanSpy"), ("Data", f"{call.caller_channel},qEou"), ("Async", "1")))
        assert (await client.message())["Response"] == "Success"
        assert (await asterisk.wait_event("OriginateResponse"))["Response"] == "Failure"
        assert not audio_server.streams
        await client.close()
    finally:
        await asterisk.stop()


async def test_asterisk_13_sip_names_and_filtered_queue_events_over_the_wire() -> None:
    asterisk = FakeAsterisk(secret=SECRET, version=13, filtered_events=["Queue*", "Agent*"])
    await asterisk.start()
    try:
        client = await RawAmi.open(asterisk)
        await client.login()
        call = await asterisk.ring_agent(await asterisk.inbound_call(), via_local=True)
        await client.send(ami(("Action", "Ping"), ("ActionID", "after")))
        seen = []
        while (message := await client.message()).get("ActionID") != "after":
            seen.append(message)
        dial = next(m for m in seen if m.get("Event") == "DialBegin" and m["DestChannel"] == call.agent_channel)
        assert re.match(r"^SIP/1001-[0-9a-f]{8}$", dial["DestChannel"])
        assert re.match(r"^Local/1001@agents-[0-9a-f]{8};2$", dial["Channel"])
        assert "AgentCalled" in event_names(asterisk)  # produced, but never written to the client
        assert not [m for m in seen if m.get("Event", "").startswith(("Queue", "Agent"))]
        await client.close()
    finally:
        await asterisk.stop()


@pytest.mark.parametrize("version, tech_cause", [(21, None), (22, "487")])
async def test_version_field_differences(version: int, tech_cause: str | None) -> None:
    asterisk = FakeAsterisk(secret=SECRET, version=version, tenantid="beijing", channelvars=["TICKET"])
    await asterisk.start()
    try:
        call = await asterisk.ring_agent(await asterisk.inbound_call())
        first = asterisk.events[0]
        assert [k for k, _ in first][-2:] == ["Tenantid", "ChanVariable"]
        assert dict(first)["ChanVariable"] == "TICKET="
        await asterisk.abandon(call)
        agent_hangup = await asterisk.wait_event("Hangup", lambda e: e["Channel"] == call.agent_channel)
        assert agent_hangup.get("TechCause") == tech_cause
    finally:
        await asterisk.stop()


# -- call actions ---------------------------------------------------------------------------------------

async def test_call_actions_answer_like_asterisk(fake: FakeAsterisk) -> None:
    call = await fake.ring_agent(await fake.inbound_call())
    await fake.answer(call)
    client = await RawAmi.open(fake)
    await client.login(events="off")
    answers = [
        (ami(("Action", "BlindTransfer"), ("Channel", "PJSIP/ghost-00000009"), ("Exten", "2001")),
         {"Response": "Error", "Message": "Channel specified does not exist"}),
        (ami(("Action", "Redirect"), ("Channel", "PJSIP/ghost-00000009"), ("Context", "c"), ("Exten", "1"),
             ("Priority", "1")), {"Response": "Error", "Message": "Channel does not exist: PJSIP/ghost-00000009"}),
        (ami(("Action", "Hangup"), ("Channel", "PJSIP/ghost-00000009")), {"Response": "Error",
                                                                        "Message": "No such channel"}),
        (ami(("Action", "Atxfer"), ("Channel", call.caller_channel)), {"Response": "Error",
                                                                     "Message": "No extension specified"}),
        (ami(("Action", "Setvar"), ("Channel", call.caller_channel), ("Variable", "TICKET"), ("Value", "T-42")),
         {"Response": "Success", "Message": "Variable Set"}),
        (ami(("Action", "Getvar"), ("Channel", call.uniqueid), ("Variable", "TICKET")),
         {"Response": "Success", "Variable": "TICKET", "Value": "T-42"}),
        (ami(("Action", "Getvar"), ("Channel", call.caller_channel), ("Variable", "CHANNEL(linkedid)")),
         {"Response": "Success", "Variable": "CHANNEL(linkedid)", "Value": call.linkedid}),
    ]
    for request, expected in answers:
        await client.send(request)
        assert await client.message() == expected
    varset = await fake.wait_event("VarSet", lambda e: e["Variable"] == "TICKET")
    assert (varset["Channel"], varset["Value"]) == (call.caller_channel, "T-42")
    await client.send(ami(("Action", "Hangup"), ("Channel", call.caller_channel), ("Cause", "16")))
    assert await client.message() == {"Response": "Success", "Message": "Channel Hungup"}
    complete = await fake.wait_event("AgentComplete")
    assert complete["Reason"] == "caller"
    await fake.wait_event("Hangup", lambda e: e["Channel"] == call.agent_channel)
    assert not fake.channels
    await client.close()


async def test_transfer_actions_through_panoramisk(fake: FakeAsterisk, pano: Panoramisk) -> None:
    call = await fake.ring_agent(await fake.inbound_call())
    await fake.answer(call)
    reply = await pano.manager.send_action({"Action": "Atxfer", "Channel": call.agent_channel, "Exten": "2002"},
                                           as_list=False)
    assert (reply.response, reply.message) == ("Success", "Atxfer successfully queued")
    await pano.wait_for(lambda events: any(e["Event"] == "AttendedTransfer" for e in events))
    assert next(e for e in pano.events if e["Event"] == "AttendedTransfer")["IsExternal"] == "No"
    await fake.wait_until(lambda: "attended-transfer:2002" in call.history)
    target = call.agent_channel
    assert target and target.startswith("PJSIP/2002-")
    reply = await pano.manager.send_action({"Action": "BlindTransfer", "Channel": target, "Exten": "2003",
                                            "Context": "transfer"}, as_list=False)
    assert (reply.response, reply.message) == ("Success", "Transfer succeeded")
    await fake.wait_until(lambda: "blind-transfer:2003@transfer" in call.history)
    transfer = await fake.wait_event("BlindTransfer")
    assert (transfer["TransfererChannel"], transfer["TransfereeChannel"]) == (target, call.caller_channel)
    assert not [e for e in fake.events if dict(e)["Event"] == "AgentComplete" and dict(e)["Reason"] == "transfer"
                and dict(e)["DestChannel"] == target]  # the target is no queue member: no Agent* events
    reply = await pano.manager.send_action({"Action": "Hangup", "Channel": "/^PJSIP/2003-/"}, as_list=True)
    assert [m.get("Event") or m.response for m in reply] == ["Success", "ChannelHungup", "ChannelsHungupListComplete"]
    await fake.wait_until(lambda: call.ended)  # the ringing target is gone, Dial returns, the caller ends
    assert call.history[-1] == "declined" and not fake.channels


async def test_blind_transfer_action_and_invalid_transfer(fake: FakeAsterisk) -> None:
    call = await fake.inbound_call()
    client = await RawAmi.open(fake)
    await client.login(events="off")
    await client.send(ami(("Action", "BlindTransfer"), ("Channel", call.caller_channel), ("Exten", "2001")))
    assert await client.message() == {"Response": "Error", "Message": "Transfer invalid"}
    assert (await fake.wait_event("BlindTransfer"))["Result"] == "Invalid"
    await fake.ring_agent(call)
    await fake.answer(call)
    await client.send(ami(("Action", "BlindTransfer"), ("Channel", call.agent_channel), ("Exten", "2001"),
                          ("Context", "transfer")))
    assert await client.message() == {"Response": "Success", "Message": "Transfer succeeded"}
    done = await fake.wait_event("BlindTransfer", lambda e: e["Result"] == "Success")
    assert done["IsExternal"] == "Yes"
    await fake.wait_event("DialBegin", lambda e: e["DestChannel"].startswith("PJSIP/2001-"))
    await client.close()


# -- connections -------------------------------------------------------------------------------------------

async def test_events_go_to_every_client_that_wants_them(fake: FakeAsterisk) -> None:
    on, off, agent_only = [await RawAmi.open(fake) for _ in range(3)]
    await on.login()
    await off.login(events="off")
    await agent_only.login(events="agent")
    await fake.wait_for_clients(timeout=10, count=3)
    call = await fake.inbound_call()
    assert (await on.message())["Event"] == "Newchannel"
    assert (await agent_only.message())["Event"] == "QueueCallerJoin"
    # nothing was queued for the `off` client before its Ping answer
    await off.send(ami(("Action", "Ping"), ("ActionID", "z")))
    assert (await off.message())["ActionID"] == "z"
    await fake.send_raw(b"Event: Garbage\r\nBroken line without colon\r\n\r\n")
    assert await off.block() == b"Event: Garbage\r\nBroken line without colon\r\n\r\n"
    assert call.caller_channel in fake.channels
    for client in (on, off, agent_only):
        await client.close()


async def test_drop_connections_resets_sockets_and_keeps_the_calls(fake: FakeAsterisk) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await fake.wait_for_clients(timeout=0.05)
    call = await fake.inbound_call()
    client = await RawAmi.open(fake)
    await client.login(events="off")
    await fake.drop_connections()
    assert await client.at_eof()
    assert fake.logged_in_clients == 0
    again = await RawAmi.open(fake)
    await again.login(events="off")
    await again.send(ami(("Action", "CoreShowChannels")))
    assert (await again.message())["EventList"] == "start"
    assert (await again.message())["Channel"] == call.caller_channel
    await again.close()


async def test_panoramisk_reconnects_after_a_drop(fake: FakeAsterisk) -> None:
    client = await Panoramisk(fake, reconnect_timeout=0).connect()
    try:
        client.logged_in.clear()
        await fake.drop_connections()
        await asyncio.wait_for(client.logged_in.wait(), 5)
        await fake.wait_for_clients(timeout=10)
        assert len([a for a in fake.actions if a.get("Action") == "Login"]) == 2
    finally:
        client.manager.close()


# -- the AudioSocket client helper ---------------------------------------------------------------------------

async def test_stream_audiosocket_sends_uuid_frames_dtmf_then_eof(audio_server: AudioSocketServer) -> None:
    port = audio_server.server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stream_uuid = uuid.uuid4()
    pcm = bytes(range(200)) * 5  # 1000 bytes: 3 whole frames and a padded one
    await stream_audiosocket("127.0.0.1", port, stream_uuid, pcm, realtime=False, dtmf="5#")
    await asyncio.wait_for(audio_server.ended[0].wait(), 5)
    frames = audio_server.streams[0]
    assert frames[0] == (KIND_UUID, stream_uuid.bytes)
    assert [(k, len(p)) for k, p in frames[1:5]] == [(KIND_SLIN, 320)] * 4
    assert b"".join(p for _, p in frames[1:5]) == pcm + bytes(280)
    assert frames[5:] == [(KIND_DTMF, b"5"), (KIND_DTMF, b"#")]
    assert encode_frame(KIND_DTMF, b"5") == b"\x03\x00\x015"


async def test_stream_audiosocket_16k_kind_and_waiting_for_the_server(audio_server: AudioSocketServer) -> None:
    port = audio_server.server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    audio_server.close_after_uuid = True  # the server ends the stream: the helper must return
    await asyncio.wait_for(stream_audiosocket("127.0.0.1", port, str(uuid.uuid4()), bytes(6400), rate=16000,
                                              realtime=True, close=False), 5)
    await asyncio.wait_for(audio_server.ended[0].wait(), 5)
    assert audio_server.streams[0][0][0] == KIND_UUID
    audio_server.close_after_uuid = False
    await stream_audiosocket("127.0.0.1", port, uuid.uuid4(), bytes(1280), rate=16000, realtime=False)
    await asyncio.wait_for(audio_server.ended[1].wait(), 5)
    assert [(k, len(p)) for k, p in audio_server.streams[1][1:]] == [(0x12, 640)] * 2


async def test_ring_timeout_redirect_events_action_and_long_lines(fake: FakeAsterisk) -> None:
    call = await fake.ring_agent(await fake.inbound_call(), agent_endpoint="1002")
    first_agent = call.agent_channel
    start = len(fake.events)
    await fake.ring_no_answer(call)
    assert event_names(fake, start) == ["AgentRingNoAnswer", "DialEnd", "Hangup"]
    assert dict(fake.events[start])["MemberName"] == "坐席1002"
    await fake.ring_agent(call, agent_endpoint="1003")  # the queue tries the next member
    assert call.agent_channel != first_agent and call.interface == "PJSIP/1003"
    client = await RawAmi.open(fake)
    await client.login(events="off")
    await client.send(ami(("Action", "Events"), ("EventMask", "agent")))
    assert await client.message() == {"Response": "Success", "Events": "On"}
    await client.send(ami(("Action", "Redirect"), ("Channel", call.caller_channel), ("Context", "ivr"),
                          ("Exten", "s"), ("Priority", "1")))
    assert await client.message() == {"Response": "Success", "Message": "Redirect successful"}
    leave = await client.until(lambda m: m.get("Event") == "QueueCallerLeave")  # agent class only
    assert leave["Channel"] == call.caller_channel
    redirected = await fake.wait_event("Newexten", lambda e: e["Context"] == "ivr")
    assert redirected["Channel"] == call.caller_channel
    await client.send(b"Action: Ping\r\nX-Long: " + b"x" * 2000 + b"\r\n\r\n")
    assert (await client.until(lambda m: "Response" in m))["Message"] == (
        "Failed to process message: Message line too long")
    await client.close()
