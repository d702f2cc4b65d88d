"""A peer that plays Asterisk byte for byte, for tests and `hotline simulate-call`.

Real Asterisk cannot run here, so this module stands in for it on both of the gateway's wires
(see shared/specs/ami.md and audiosocket.md):

* `FakeAsterisk` is an AMI *server*: banner, login (plain and MD5 challenge), the responses and
  error messages of manager.c, events laid out like manager_channels.c / stasis_bridges.c /
  app_queue.c write them, and a small model of live channels so CoreShowChannels, Hangup,
  Redirect and the transfer actions answer truthfully.
* Scenario coroutines (`inbound_call`, `ring_agent`, `answer`, `hangup`, `abandon`,
  `ring_no_answer`, `blind_transfer`, `attended_transfer`, `blonde_transfer`, `dial_outside`)
  emit the event sequences of a queue call, noise included (VarSet, Newexten, MusicOnHold*,
  HangupRequest, NewConnectedLine).
* Other PBXs: queue members behind `Local/…;1`/`;2` pairs (`ring_agent(via_local=True)`, two
  bridges, then the Local optimization swaps the phone in), Asterisk 13/15 with `SIP/` channel
  names and AMI 2.x/4.x banners (`version=13`/`15`), a manager user whose eventfilter drops
  Queue*/Agent* events (`filtered_events`), and events written in two TCP pieces cut inside a
  multibyte name (`split_text`), each piece read by the client before the next is sent.
* An `Originate` of `AudioSocket/<host:port>/<uuid>` running `ChanSpy` makes it an AudioSocket
  *client*: it connects to the gateway, sends the UUID frame, then 320-byte slin frames every
  20 ms until the spied channel hangs up, and closes the socket (Asterisk never sends 0x00).
* `stream_audiosocket` plays the dialplan `AudioSocket()` app for tests of the server directly.

Stdlib only. Everything runs on the caller's event loop.
"""
from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import itertools
import logging
import random
import re
import socket
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Fields = list[tuple[str, str]]

__all__ = [
    "AMI_VERSIONS", "KIND_DTMF", "KIND_ERROR", "KIND_HANGUP", "KIND_RATES", "KIND_SLIN", "KIND_UUID", "RATE_KINDS",
    "AudioSpy", "Bridge", "Call", "Channel", "FakeAsterisk", "Headers",
    "encode_frame", "kind_for_rate", "read_frame", "stream_audiosocket",
]

# --------------------------------------------------------------------------------------------
# AudioSocket framing (audiosocket.md §2-3)
# --------------------------------------------------------------------------------------------

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_SLIN = 0x10
KIND_ERROR = 0xFF
RATE_KINDS: dict[int, int] = {
    8000: 0x10, 12000: 0x11, 16000: 0x12, 24000: 0x13, 32000: 0x14,
    44100: 0x15, 48000: 0x16, 96000: 0x17, 192000: 0x18,
}
KIND_RATES: dict[int, int] = {kind: rate for rate, kind in RATE_KINDS.items()}
SLIN_FRAME_BYTES = 320  # 20 ms of 8 kHz s16le: what ChanSpy writes into an Originate'd (slin) channel
SILENCE_FRAME = bytes(SLIN_FRAME_BYTES)
FRAME_SECONDS = 0.020
CONNECT_TIMEOUT = 2.0  # Asterisk's AudioSocket connect timeout
DTMF_DIGITS = frozenset("0123456789*#ABCD")


def encode_frame(kind: int, payload: bytes) -> bytes:
    """One AudioSocket message: kind byte, big-endian uint16 length, payload."""
    if not 0 <= kind <= 0xFF:
        raise ValueError(f"kind out of range: {kind}")
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload too long for one message: {len(payload)} bytes")
    return struct.pack(">BH", kind, len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one message; raises asyncio.IncompleteReadError at EOF (partial == b'' at a boundary)."""
    header = await reader.readexactly(3)
    kind, length = struct.unpack(">BH", header)
    payload = await reader.readexactly(length) if length else b""
    return kind, payload


def kind_for_rate(rate: int) -> int:
    try:
        return RATE_KINDS[rate]
    except KeyError:
        raise ValueError(f"no AudioSocket kind for {rate} Hz; known: {sorted(RATE_KINDS)}") from None


async def _read_until_end(reader: asyncio.StreamReader) -> list[tuple[int, bytes]]:
    """What a peer sends back until it closes or sends the 0x00 terminate message."""
    frames: list[tuple[int, bytes]] = []
    try:
        while True:
            kind, payload = await read_frame(reader)
            frames.append((kind, payload))
            if kind == KIND_HANGUP:
                return frames
    except (asyncio.IncompleteReadError, ConnectionError):
        return frames


async def stream_audiosocket(
    host: str,
    port: int,
    stream_uuid: uuid.UUID | str,
    pcm: bytes,
    *,
    rate: int = 8000,
    frame_ms: int = 20,
    realtime: bool = True,
    kind: int | None = None,
    dtmf: str = "",
    close: bool = True,
) -> None:
    """Play the dialplan AudioSocket() app against a server: UUID frame, audio, DTMF, then EOF.

    Audio goes out in `frame_ms` frames (the last one zero-padded, as Asterisk only sends whole
    voice frames), paced in real time unless `realtime=False`. `kind` defaults to the spec's kind
    for `rate` (0x10 for 8 kHz). DTMF digits follow the audio as `03 00 01 <digit>`. With
    `close=False` the socket stays open after the last frame until the server ends the stream
    (0x00 or close). Whatever the server sends meanwhile is read and dropped, like a channel
    that is not listening. Sending stops early if the server ends the stream first.
    """
    if len(pcm) % 2:
        raise ValueError("pcm must be whole s16le samples (even length)")
    bad = set(dtmf) - DTMF_DIGITS
    if bad:
        raise ValueError(f"not DTMF digits: {''.join(sorted(bad))}")
    frame_kind = kind_for_rate(rate) if kind is None else kind
    frame_bytes = rate * frame_ms // 1000 * 2
    if frame_bytes <= 0 or frame_bytes > 0xFFFF:
        raise ValueError(f"frame of {frame_ms} ms at {rate} Hz does not fit one message")
    the_uuid = stream_uuid if isinstance(stream_uuid, uuid.UUID) else uuid.UUID(str(stream_uuid))
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
    server_end = asyncio.create_task(_read_until_end(reader))
    try:
        writer.write(encode_frame(KIND_UUID, the_uuid.bytes))
        await writer.drain()
        await _send_paced(writer, pcm, frame_bytes, frame_kind, frame_ms / 1000, realtime, server_end)
        for digit in dtmf:
            writer.write(encode_frame(KIND_DTMF, digit.encode("ascii")))
        await writer.drain()
        if not close:
            await server_end
    finally:
        server_end.cancel()
        await asyncio.gather(server_end, return_exceptions=True)
        await _close_writer(writer)


async def _send_paced(writer: asyncio.StreamWriter, pcm: bytes, frame_bytes: int, kind: int, period: float,
                      realtime: bool, server_end: asyncio.Task[Any]) -> None:
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    for offset in range(0, len(pcm), frame_bytes):
        if server_end.done():
            return
        writer.write(encode_frame(kind, pcm[offset:offset + frame_bytes].ljust(frame_bytes, b"\0")))
        await writer.drain()
        if realtime:
            next_at += period
            await asyncio.sleep(max(0.0, next_at - loop.time()))


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    if not writer.is_closing():
        writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


# --------------------------------------------------------------------------------------------
# AMI constants (ami.md §1-3)
# --------------------------------------------------------------------------------------------

AMI_VERSIONS: dict[int, str] = {13: "2.10.6", 15: "4.0.3", 16: "5.0.5", 18: "7.0.3", 20: "9.0.0", 21: "10.0.0", 22: "11.0.0"}
ASTERISK_RELEASES: dict[int, str] = {13: "13.38.3", 15: "15.7.4", 16: "16.30.1", 18: "18.26.4", 20: "20.17.0", 21: "21.10.2",
                                     22: "22.7.0"}
CHAN_SIP_ONLY = 16  # releases before this one are modelled with chan_sip (`SIP/peer-%08x`) phones and trunks
BLONDE_LOCAL = "Local/_attended@transfer"  # bridge.c attended_transfer_bridge(): the Local pair of a transfer to an App
STATE_DESC = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
STATE_DOWN, STATE_RING, STATE_RINGING, STATE_UP = 0, 4, 5, 6
CAUSE_TEXT = {
    0: "Unknown", 1: "Unallocated (unassigned) number", 16: "Normal Clearing", 17: "User busy",
    18: "No user responding", 19: "User alerting, no answer", 21: "Call Rejected", 26: "Answered elsewhere",
    34: "Circuit/channel congestion", 38: "Network out of order", 127: "Interworking, unspecified",
}
UNKNOWN = "<unknown>"
EVENT_CLASSES = frozenset({
    "system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf", "reporting", "cdr",
    "dialplan", "originate", "agi", "cc", "aoc", "test", "security", "message",
})
PRE_LOGIN_ACTIONS = frozenset({"login", "logoff", "challenge"})
MAX_LINE_BYTES = 1024  # Asterisk drops longer client lines
MAX_HEADERS = 128
SOFT_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})
CANCELLED_TECH_CAUSE = 487  # SIP "Request Terminated": what a CANCELled PJSIP leg reports as TechCause


def _block(fields: Iterable[tuple[str, str]]) -> bytes:
    """One AMI message as Asterisk writes it: `Key: Value` CRLF lines, closed by an empty line."""
    return ("".join(f"{key}: {value}\r\n" for key, value in fields) + "\r\n").encode("utf-8")


def _timestamp() -> str:
    now = time.time()
    return f"{int(now)}.{int((now % 1) * 1_000_000):06d}"


def _duration(seconds: float) -> str:
    total = max(0, int(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _unread_by_peer(ours: tuple[str, int], theirs: tuple[str, int]) -> int | None:
    """Bytes waiting in the receive queue of the peer's socket (it runs on this machine); None
    when /proc/net/tcp does not list it."""
    def address(text: str) -> tuple[str, int]:
        host, port = text.split(":")
        return socket.inet_ntoa(struct.pack("=I", int(host, 16))), int(port, 16)

    try:
        lines = open("/proc/net/tcp").read().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if address(fields[1]) == theirs and address(fields[2]) == ours:
            return int(fields[4].split(":")[1], 16)
    return None


def _cause_text(cause: int) -> str:
    return CAUSE_TEXT.get(cause, "Unknown")


class Headers(dict[str, Any]):
    """An action's headers as received (repeated ones as lists); lookups ignore case like Asterisk."""

    def _key(self, key: str) -> str | None:
        if dict.__contains__(self, key):
            return key
        low = key.lower()
        return next((k for k in self if k.lower() == low), None)

    def __getitem__(self, key: str) -> Any:
        found = self._key(key)
        if found is None:
            raise KeyError(key)
        return dict.__getitem__(self, found)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._key(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        found = self._key(key)
        return default if found is None else dict.__getitem__(self, found)

    def add(self, key: str, value: str) -> None:
        found = self._key(key)
        if found is None:
            self[key] = value
            return
        current = dict.__getitem__(self, found)
        self[found] = (current if isinstance(current, list) else [current]) + [value]

    def all(self, key: str) -> list[str]:
        value = self.get(key)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]

    def first(self, key: str, *, skip_empty: bool = False) -> str:
        """astman_get_header: the first matching header's value ("" if none)."""
        for value in self.all(key):
            if value or not skip_empty:
                return value
        return ""


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    seq: int  # creation order; the oldest linkedid wins when channels are bridged
    linked_seq: int
    state: int = STATE_DOWN
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    language: str = "en"
    accountcode: str = ""
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    application: str = ""
    app_data: str = ""
    bridge_id: str = ""
    created: float = field(default_factory=time.monotonic)
    variables: dict[str, str] = field(default_factory=dict)
    moh: bool = False
    hungup: bool = False

    @property
    def state_desc(self) -> str:
        return STATE_DESC.get(self.state, "Unknown")


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    members: list[Channel] = field(default_factory=list)
    bridge_type: str = "basic"
    technology: str = "simple_bridge"
    creator: str = ""
    name: str = ""
    video_mode: str = "none"


@dataclass(eq=False)
class Call:
    """One inbound call as the scenarios move it along; pass it to the next step."""

    caller: Channel
    did: str
    queue: str
    agent: Channel | None = None  # the current other leg: the queue member, or a transfer target later
    member_name: str = ""
    interface: str = ""
    agent_is_member: bool = False  # Agent* events only while the other leg is a queue member
    member: Channel | None = None  # the queue's member channel when it is not the phone (a Local ;1)
    local: tuple[Channel, Channel] | None = None  # the ;1/;2 pair in front of the ringing leg, until optimized away
    bridge: Bridge | None = None
    in_queue: bool = False
    original_position: int = 0
    joined_at: float = 0.0
    ring_started_at: float = 0.0
    connected_at: float = 0.0
    ended: bool = False
    history: list[str] = field(default_factory=list)

    @property
    def caller_channel(self) -> str:
        return self.caller.name

    @property
    def uniqueid(self) -> str:
        return self.caller.uniqueid

    @property
    def linkedid(self) -> str:
        return self.caller.linkedid

    @property
    def agent_channel(self) -> str | None:
        return self.agent.name if self.agent else None

    @property
    def agent_uniqueid(self) -> str | None:
        return self.agent.uniqueid if self.agent else None

    @property
    def bridge_id(self) -> str | None:
        return self.bridge.uniqueid if self.bridge else None


@dataclass(eq=False)
class _LegAudio:
    pcm: bytes
    realtime: bool
    live: bool = False  # one timeline for every spy: a later spy hears from where the leg is now
    started_at: float | None = None  # loop time the first spy started hearing it (live only)


@dataclass(eq=False)
class AudioSpy:
    """An Originate'd AudioSocket channel running ChanSpy (or another app) towards the gateway."""

    uuid: uuid.UUID
    service: str  # host:port as written in the Channel header
    channel: Channel
    spied: Channel | None
    app: str
    data: str
    options: str
    action_id: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    frames_sent: int = 0
    received: list[tuple[int, bytes]] = field(default_factory=list)
    started: bool = False  # ChanSpyStart sent
    audio_done: bool = False
    ended: bool = False
    end_reason: str = ""
    stop_cause: int = 16
    audio: _LegAudio | None = None
    offset: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def exits_with_spied(self) -> bool:
        # E: exit when the spied channel hangs up; S: stop when nothing is left to spy on
        return "E" in self.options or "S" in self.options


@dataclass(eq=False)
class _Client:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    authenticated: bool = False
    username: str = ""
    event_mask: frozenset[str] = EVENT_CLASSES
    challenge: str = ""

    def wants(self, event_class: str) -> bool:
        return self.authenticated and event_class in self.event_mask


@dataclass(frozen=True)
class _OriginateRequest:
    action_id: str
    channel: str
    tech: str
    resource: str
    app: str
    data: str
    context: str
    exten: str
    cid_num: str
    cid_name: str
    channel_id: str
    variables: list[tuple[str, str]]


def _parse_event_mask(value: str) -> frozenset[str] | None:
    """Login `Events:` / Events `EventMask:` → the classes to send; None if not understood."""
    low = value.strip().lower()
    if low in SOFT_TRUE or low == "all":
        return EVENT_CLASSES
    if low in ("off", "no", "false", "none", "0", ""):
        return frozenset()
    classes = frozenset(part.strip() for part in low.split(",") if part.strip())
    if "all" in classes:
        return EVENT_CLASSES
    return classes & EVENT_CLASSES if classes & EVENT_CLASSES else None


def _parse_callerid(value: str) -> tuple[str, str]:
    """`"Name" <num>` / `Name <num>` / `num` → (num, name)."""
    match = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', value)
    if match:
        return match.group(2).strip(), match.group(1).strip()
    return value.strip(), ""


def _split_service(service: str) -> tuple[str, int] | None:
    """`host:port` or `[v6]:port` → (host, port); the port is mandatory for AudioSocket."""
    if service.startswith("["):
        host, _, rest = service[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = service.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def _chanspy_options(options: str) -> str:
    """Option letters only: drop arguments such as g(grp) or v(-4)."""
    return re.sub(r"\([^)]*\)", "", options)


# --------------------------------------------------------------------------------------------
# The AMI server
# --------------------------------------------------------------------------------------------

class FakeAsterisk:
    """An AMI server that behaves like Asterisk `version` towards its clients. See module docs."""

    def __init__(
        self,
        username: str = "hotline",
        secret: str = "hotline-secret",
        host: str = "127.0.0.1",
        port: int = 0,
        version: int = 20,
        login_failure_delay: float = 1.0,
        system_name: str | None = None,
        *,
        timestamp_events: bool = False,
        channelvars: Sequence[str] = (),
        tenantid: str | None = None,
        auth_timeout: float = 30.0,
        atxfer_feature: bool = True,
        tech: str | None = None,
        filtered_events: Sequence[str] = (),
    ) -> None:
        if version not in AMI_VERSIONS:
            raise ValueError(f"unsupported Asterisk major {version}; known: {sorted(AMI_VERSIONS)}")
        self.username = username
        self.secret = secret
        self.host = host
        self.version = version
        self.ami_version = AMI_VERSIONS[version]
        self.login_failure_delay = login_failure_delay
        self.system_name = system_name or None
        self.timestamp_events = timestamp_events
        self.channelvars = list(channelvars)
        self.tenantid = tenantid
        self.auth_timeout = auth_timeout
        self.atxfer_feature = atxfer_feature
        self.tech = tech or ("SIP" if version < CHAN_SIP_ONLY else "PJSIP")  # phones' and trunks' channel technology
        self.filtered_events = list(filtered_events)  # manager.conf eventfilter: event names (fnmatch) never sent
        self.split_text: tuple[str, int] | None = None  # (text, byte offset): events with it go out in two pieces
        self._split_writes = asyncio.Lock()  # one event at a time on the wire while one is split
        self.actions: list[Headers] = []
        self.events: list[Fields] = []
        self.channels: dict[str, Channel] = {}  # live channels by name, in creation order
        self.bridges: dict[str, Bridge] = {}
        self.calls: list[Call] = []
        self.spies: list[AudioSpy] = []
        self.global_vars: dict[str, str] = {}
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._clients: list[_Client] = []
        self._queues: dict[str, list[Call]] = {}
        self._leg_audio: dict[str, _LegAudio] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._uid_seq = itertools.count()
        self._pjsip_seq = itertools.count()
        self._local_seq = itertools.count()
        self._consumed: set[int] = set()  # action indexes already returned by wait_action
        self._tick = asyncio.Event()
        self._started_at = time.time()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self._requested_port, limit=1 << 20)
        self._started_at = time.time()
        log.info("fake Asterisk %s (AMI %s) listening on %s:%s", self.version, self.ami_version, self.host, self.port)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for spy in self.spies:
            spy.stop.set()
            await _close_writer(spy.writer)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in list(self._clients):
            await _close_writer(client.writer)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def drop_connections(self) -> None:
        """Reset every AMI socket (RST), like an Asterisk restart or a network loss.

        The channel model, the spies and the listening socket stay: clients may reconnect.
        """
        dropped = list(self._clients)
        for client in dropped:
            sock = client.writer.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            client.writer.transport.abort()
        await self.wait_until(lambda: not any(client in self._clients for client in dropped), 5.0)

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are to every connected client (for malformed-frame tests)."""
        clients = list(self._clients)
        for client in clients:
            client.writer.write(data)
        await self._drain(clients)

    # -- waiting ---------------------------------------------------------------------------

    def _changed(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    async def wait_until(self, probe: Callable[[], T | None], timeout: float = 10.0) -> T:
        """Until `probe()` is truthy (re-checked whenever the fake's state changes); returns it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = probe()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError(f"condition not met within {timeout}s")
            tick = self._tick
            try:
                await asyncio.wait_for(tick.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    @property
    def logged_in_clients(self) -> int:
        return sum(1 for client in self._clients if client.authenticated)

    async def wait_for_clients(self, timeout: float = 10.0, count: int = 1) -> None:
        """Until `count` clients have logged in; raises asyncio.TimeoutError."""
        await self.wait_until(lambda: self.logged_in_clients >= count, timeout)

    async def wait_action(self, name: str, predicate: Callable[[Headers], bool] | None = None,
                          timeout: float = 10.0) -> Headers:
        """The first received action `name` (any case) matching `predicate` and not returned before."""
        low = name.lower()

        def probe() -> Headers | None:
            for index, action in enumerate(self.actions):
                if index in self._consumed or action.first("Action", skip_empty=True).lower() != low:
                    continue
                if predicate is None or predicate(action):
                    self._consumed.add(index)
                    return action
            return None

        return await self.wait_until(probe, timeout)

    async def wait_event(self, name: str, predicate: Callable[[dict[str, str]], bool] | None = None,
                         timeout: float = 10.0, *, start: int = 0) -> dict[str, str]:
        """The first event `name` sent (from index `start` of `.events`) matching `predicate`."""
        def probe() -> dict[str, str] | None:
            for fields in self.events[start:]:
                event = dict(fields)
                if event.get("Event") == name and (predicate is None or predicate(event)):
                    return event
            return None

        return await self.wait_until(probe, timeout)

    async def wait_audio_done(self, uuid_or_channel: uuid.UUID | str, timeout: float = 30.0) -> bool:
        """Until a spy (by stream UUID, its AudioSocket channel, or the spied channel's name or
        Uniqueid) has streamed all audio registered for its leg, or has ended.
        Returns True when the audio was sent completely. Waits for the spy to exist first."""
        key = str(uuid_or_channel)

        def probe() -> AudioSpy | None:
            for spy in self.spies:
                names = {str(spy.uuid), spy.channel.name}
                if spy.spied is not None:
                    names |= {spy.spied.name, spy.spied.uniqueid}
                if key in names and (spy.audio_done or spy.ended):
                    return spy
            return None

        spy = await self.wait_until(probe, timeout)
        return spy.audio_done

    # -- audio of the legs -----------------------------------------------------------------

    def set_leg_audio(self, channel_name_or_uniqueid: str, pcm_8k_s16le: bytes, realtime: bool = True, live: bool = False) -> None:
        """Audio ChanSpy will "hear" on that leg: 8 kHz s16le mono, streamed by any spy on it.
        By default each spy hears it from the start; `live` (real time only) makes it what the
        leg says as time goes by, from the moment the first spy hears it: a spy originated
        later hears only what is said from then on, as a real ChanSpy does."""
        if len(pcm_8k_s16le) % 2:
            raise ValueError("pcm must be whole s16le samples (even length)")
        if live and not realtime:
            raise ValueError("live audio plays in real time")
        self._leg_audio[channel_name_or_uniqueid] = _LegAudio(bytes(pcm_8k_s16le), realtime, live)
        self._changed()

    def _audio_for(self, channel: Channel | None) -> _LegAudio | None:
        if channel is None:
            return None
        return self._leg_audio.get(channel.name) or self._leg_audio.get(channel.uniqueid)

    # -- model helpers -----------------------------------------------------------------------

    def find_channel(self, name_or_uniqueid: str) -> Channel | None:
        """Like ast_channel_get_by_name: the name (any case), else the Uniqueid."""
        if name_or_uniqueid in self.channels:
            return self.channels[name_or_uniqueid]
        low = name_or_uniqueid.lower()
        for channel in self.channels.values():
            if channel.name.lower() == low or channel.uniqueid == name_or_uniqueid:
                return channel
        return None

    def _new_uniqueid(self) -> tuple[str, int]:
        seq = next(self._uid_seq)
        base = f"{int(time.time())}.{seq}"
        return (f"{self.system_name}-{base}" if self.system_name else base), seq

    def _pjsip_name(self, endpoint: str) -> str:
        """A phone's or trunk's channel name: `PJSIP/1001-0000002a`, or `SIP/1001-0000002a` before 16."""
        return f"{self.tech}/{endpoint}-{next(self._pjsip_seq):08x}"

    async def _local_pair(self, exten_at_context: str, linked: Channel) -> tuple[Channel, Channel]:
        """core_local: `Local/<exten>@<context>-<8 hex>;1` and `;2`, then LocalBridge."""
        base = f"Local/{exten_at_context}-{next(self._local_seq):08x}"
        exten, _, context = exten_at_context.partition("@")
        one = self._make_channel(base + ";1", linked=linked, caller_num=linked.caller_num, caller_name=linked.caller_name,
                                 context=context, exten=exten)
        two = self._make_channel(base + ";2", linked=linked, caller_num=linked.caller_num, caller_name=linked.caller_name,
                                 context=context, exten=exten)
        await self._newchannel(one)
        await self._newchannel(two)
        await self.emit("LocalBridge", "call", self.channel_block(one, "LocalOne") + self.channel_block(two, "LocalTwo")
                        + [("Context", context), ("Exten", exten), ("LocalOptimization", "Yes")])
        return one, two

    def _make_channel(self, name: str, *, linked: Channel | None = None, uniqueid: str = "", **attrs: Any) -> Channel:
        uid, seq = self._new_uniqueid()
        uid = uniqueid or uid
        channel = Channel(
            name=name, uniqueid=uid, seq=seq,
            linkedid=linked.linkedid if linked else uid,
            linked_seq=linked.linked_seq if linked else seq,
            **attrs,
        )
        self.channels[name] = channel
        return channel

    def _call_of(self, channel: Channel) -> tuple[Call | None, str]:
        for call in self.calls:
            if call.ended:
                continue
            if call.caller is channel:
                return call, "caller"
            if call.agent is channel:
                return call, "agent"
        return None, ""

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("fake Asterisk background task failed", exc_info=task.exception())

    # -- event layout ------------------------------------------------------------------------

    def channel_block(self, channel: Channel, prefix: str = "") -> Fields:
        """ast_manager_build_channel_state_string_prefix, in its fixed order."""
        p = prefix
        fields = [
            (p + "Channel", channel.name),
            (p + "ChannelState", str(channel.state)),
            (p + "ChannelStateDesc", channel.state_desc),
            (p + "CallerIDNum", channel.caller_num or UNKNOWN),
            (p + "CallerIDName", channel.caller_name or UNKNOWN),
            (p + "ConnectedLineNum", channel.connected_num or UNKNOWN),
            (p + "ConnectedLineName", channel.connected_name or UNKNOWN),
            (p + "Language", channel.language),
            (p + "AccountCode", channel.accountcode),
            (p + "Context", channel.context),
            (p + "Exten", channel.exten),
            (p + "Priority", str(channel.priority)),
            (p + "Uniqueid", channel.uniqueid),
            (p + "Linkedid", channel.linkedid),
        ]
        if self.tenantid and self.version >= 18:  # 18.25 / 20.10 / 21.5 / 22.0+, only when set
            fields.append((p + "Tenantid", self.tenantid))
        for name in self.channelvars:
            fields.append((p + "ChanVariable", f"{name}={self._getvar(channel, name)}"))
        return fields

    @staticmethod
    def bridge_block(bridge: Bridge, prefix: str = "") -> Fields:
        p = prefix
        return [
            (p + "BridgeUniqueid", bridge.uniqueid),
            (p + "BridgeType", bridge.bridge_type),
            (p + "BridgeTechnology", bridge.technology),
            (p + "BridgeCreator", bridge.creator or UNKNOWN),
            (p + "BridgeName", bridge.name or UNKNOWN),
            (p + "BridgeNumChannels", str(len(bridge.members))),
            (p + "BridgeVideoSourceMode", bridge.video_mode),
        ]

    async def emit(self, event_name: str, privilege: str, fields: Sequence[tuple[str, str]]) -> None:
        """Send one event to every logged-in client whose event mask has its class.

        `privilege` is the class (`call`) or the full header value (`call,all`)."""
        full = privilege if "," in privilege else f"{privilege},all"
        headers: Fields = [("Event", event_name), ("Privilege", full)]
        if self.timestamp_events:
            headers.append(("Timestamp", _timestamp()))
        if self.system_name:
            headers.append(("SystemName", self.system_name))
        headers.extend(fields)
        self.events.append(headers)
        data = _block(headers)
        event_class = full.split(",", 1)[0].strip().lower()
        targets = [client for client in self._clients if client.wants(event_class)]
        if any(fnmatch.fnmatchcase(event_name, pattern) for pattern in self.filtered_events):
            targets = []
        pieces = self._pieces(data)
        # Asterisk writes each event whole into the session: while a split one waits between its
        # pieces, no other event may slip in between them.
        async with self._split_writes:
            for piece in pieces[:-1]:
                for client in targets:
                    client.writer.write(piece)
                await self._drain(targets)
                await self._until_read(targets)
            for client in targets:
                client.writer.write(pieces[-1])
        self._changed()
        await self._drain(targets)

    def _pieces(self, data: bytes) -> list[bytes]:
        """The message as it goes out: whole, or cut `split_text`'s byte offset into that text."""
        if self.split_text is None:
            return [data]
        text, offset = self.split_text
        at = data.find(text.encode("utf-8"))
        return [data] if at < 0 else [data[:at + offset], data[at + offset:]]

    async def _until_read(self, clients: Sequence[_Client], timeout: float = 5.0) -> None:
        """Until every client has read all it was sent (its socket's receive queue, from
        /proc/net/tcp, is empty): the next write then reaches it in a read of its own."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for client in clients:
            sock = client.writer.get_extra_info("socket")
            if sock is None:
                continue
            ours, theirs = sock.getsockname()[:2], sock.getpeername()[:2]
            while (unread := _unread_by_peer(ours, theirs)) and loop.time() < deadline:
                await asyncio.sleep(0.001)
            if unread is None:
                raise RuntimeError("split_text needs /proc/net/tcp (Linux, IPv4) to see what the client has read")

    async def _drain(self, clients: Iterable[_Client]) -> None:
        # Asterisk drops a session that does not read in time (writetimeout); so do we.
        async def one(client: _Client) -> None:
            try:
                await asyncio.wait_for(client.writer.drain(), 5.0)
            except (asyncio.TimeoutError, ConnectionError, OSError):
                client.writer.transport.abort()

        await asyncio.gather(*(one(client) for client in clients))

    # -- channel-level events ----------------------------------------------------------------

    async def _chan_event(self, name: str, privilege: str, channel: Channel, extra: Fields | None = None) -> None:
        await self.emit(name, privilege, self.channel_block(channel) + (extra or []))

    async def _newchannel(self, channel: Channel) -> None:
        await self._chan_event("Newchannel", "call", channel)

    async def _set_state(self, channel: Channel, state: int) -> None:
        channel.state = state
        await self._chan_event("Newstate", "call", channel)

    async def _varset(self, channel: Channel | None, name: str, value: str) -> None:
        base = name.lstrip("_")
        if channel is None:
            self.global_vars[base] = value
            fields: Fields = [("Channel", "none"), ("Uniqueid", "none")]
        else:
            channel.variables[base] = value
            fields = self.channel_block(channel)
        await self.emit("VarSet", "dialplan", fields + [("Variable", name), ("Value", value)])

    async def _newexten(self, channel: Channel, context: str, exten: str, priority: int, app: str, data: str) -> None:
        channel.context, channel.exten, channel.priority = context, exten, priority
        channel.application, channel.app_data = app, data
        await self._chan_event("Newexten", "dialplan", channel,
                               [("Extension", exten), ("Application", app), ("AppData", data)])

    async def _connected_line(self, channel: Channel, num: str, name: str) -> None:
        channel.connected_num, channel.connected_name = num, name
        await self._chan_event("NewConnectedLine", "call", channel)

    async def _moh_start(self, channel: Channel, music_class: str = "default") -> None:
        channel.moh = True
        await self._chan_event("MusicOnHoldStart", "call", channel, [("Class", music_class)])

    async def _moh_stop(self, channel: Channel) -> None:
        if channel.moh:
            channel.moh = False
            await self._chan_event("MusicOnHoldStop", "call", channel)

    async def _hangup_request(self, channel: Channel, cause: int) -> None:
        await self._chan_event("HangupRequest", "call", channel, [("Cause", str(cause))])

    async def _hangup(self, channel: Channel, cause: int = 16, tech_cause: int | None = None) -> None:
        """The Hangup event, the channel leaves the model, and the spies on it end."""
        if channel.hungup:
            return
        channel.hungup = True
        self.channels.pop(channel.name, None)  # gone from CoreShowChannels by the time Hangup is read
        fields: Fields = [("Cause", str(cause)), ("Cause-txt", _cause_text(cause))]
        if tech_cause is not None and self.version in (20, 22):  # TechCause: 20.17+ and 22.7+, not 21
            fields.append(("TechCause", str(tech_cause)))
        await self._chan_event("Hangup", "call", channel, fields)
        await self._end_spies_on(channel)

    async def _dial_begin(self, caller: Channel | None, dest: Channel, dialstring: str) -> None:
        fields = (self.channel_block(caller) if caller else []) + self.channel_block(dest, "Dest")
        await self.emit("DialBegin", "call", fields + [("DialString", dialstring)])

    async def _dial_end(self, caller: Channel | None, dest: Channel, status: str) -> None:
        fields = (self.channel_block(caller) if caller else []) + self.channel_block(dest, "Dest")
        await self.emit("DialEnd", "call", fields + [("DialStatus", status)])

    async def _bridge_create(self) -> Bridge:
        bridge = Bridge(uniqueid=str(uuid.uuid4()))
        self.bridges[bridge.uniqueid] = bridge
        await self.emit("BridgeCreate", "call", self.bridge_block(bridge))
        return bridge

    async def _bridge_enter(self, bridge: Bridge, channel: Channel, swap: Channel | None = None) -> None:
        bridge.members.append(channel)
        channel.bridge_id = bridge.uniqueid
        self._update_linkedids(bridge)
        extra = [("SwapUniqueid", swap.uniqueid)] if swap else []
        await self.emit("BridgeEnter", "call", self.bridge_block(bridge) + self.channel_block(channel) + extra)

    async def _bridge_leave(self, bridge: Bridge, channel: Channel) -> None:
        if channel in bridge.members:
            bridge.members.remove(channel)
        channel.bridge_id = ""
        await self.emit("BridgeLeave", "call", self.bridge_block(bridge) + self.channel_block(channel))

    async def _bridge_destroy(self, bridge: Bridge) -> None:
        self.bridges.pop(bridge.uniqueid, None)
        await self.emit("BridgeDestroy", "call", self.bridge_block(bridge))

    @staticmethod
    def _update_linkedids(bridge: Bridge) -> None:
        # bridge.c: every channel in a bridge takes the oldest Linkedid among them
        oldest = min(bridge.members, key=lambda ch: ch.linked_seq)
        for member in bridge.members:
            member.linkedid, member.linked_seq = oldest.linkedid, oldest.linked_seq

    # -- queue-level events ------------------------------------------------------------------

    async def _queue_event(self, name: str, call: Call, fields: Fields) -> None:
        await self.emit(name, "agent", self.channel_block(call.caller) + fields)

    async def _agent_event(self, name: str, call: Call, fields: Fields) -> None:
        dest = call.member or call.agent
        assert dest is not None
        member = [("Queue", call.queue), ("Interface", call.interface), ("MemberName", call.member_name)]
        await self.emit(name, "agent", self.channel_block(call.caller) + self.channel_block(dest, "Dest")
                        + member + fields)

    async def _join_queue(self, call: Call) -> None:
        waiting = self._queues.setdefault(call.queue, [])
        waiting.append(call)
        call.in_queue = True
        call.original_position = len(waiting)
        call.joined_at = time.monotonic()
        await self._queue_event("QueueCallerJoin", call, [
            ("Queue", call.queue), ("Position", str(len(waiting))), ("Count", str(len(waiting)))])

    def _position(self, call: Call) -> int:
        waiting = self._queues.get(call.queue, [])
        return waiting.index(call) + 1 if call in waiting else 0

    async def _leave_queue(self, call: Call) -> None:
        """app_queue leave_queue(): QueueCallerLeave, then QUEUEPOSITION is set on the caller."""
        if not call.in_queue:
            return
        position = self._position(call)
        waiting = self._queues.get(call.queue, [])
        if call in waiting:
            waiting.remove(call)
        call.in_queue = False
        await self._queue_event("QueueCallerLeave", call, [
            ("Queue", call.queue), ("Position", str(position)), ("Count", str(len(waiting)))])
        await self._varset(call.caller, "QUEUEPOSITION", str(position))

    def _hold_time(self, call: Call) -> int:
        end = call.connected_at or time.monotonic()
        return int(end - call.joined_at) if call.joined_at else 0

    # -- scenarios ---------------------------------------------------------------------------

    async def inbound_call(self, caller_num: str = "13812345678", did: str = "12345", queue: str = "hotline", *,
                           caller_name: str = "", trunk: str = "pstn-trunk", context: str = "from-pstn") -> Call:
        """A PSTN call to `did` that answers and enters `queue`.

        Newchannel(Down) → VarSet(__FROM_DID) → Newstate(Ring) → Newexten(NoOp) → Newexten(Answer)
        → Newstate(Up) → Newexten(Queue) → QueueCallerJoin → MusicOnHoldStart."""
        caller = self._make_channel(self._pjsip_name(trunk), caller_num=caller_num, caller_name=caller_name,
                                    context=context, exten=did, priority=1)
        call = Call(caller=caller, did=did, queue=queue)
        self.calls.append(call)
        await self._newchannel(caller)
        await self._varset(caller, "__FROM_DID", did)  # the trunk endpoint's set_var
        await self._set_state(caller, STATE_RING)
        await self._newexten(caller, context, did, 1, "NoOp", f"hotline {did} from {caller_num}")
        await self._newexten(caller, context, did, 2, "Answer", "")
        await self._set_state(caller, STATE_UP)
        await self._newexten(caller, context, did, 3, "Queue", f"{queue},t,,,600")
        await self._join_queue(call)
        await self._moh_start(caller)
        self._step_done(call, "queued")
        return call

    async def ring_agent(self, call: Call, agent_endpoint: str = "1001", member_name: str | None = None,
                         interface: str | None = None, *, agent_context: str = "agents", via_local: bool = False) -> Call:
        """The queue rings a member: Newchannel(agent) → Newexten(AppQueue) → AgentCalled
        → DialBegin → Newstate(agent Ringing). `member_name` defaults to 坐席<endpoint>,
        `interface` to PJSIP/<endpoint> (SIP/ before 16).

        `via_local`: the member is `Local/<endpoint>@<agent_context>` (FreePBX and others):
        Newchannel ;1, ;2 → LocalBridge → AgentCalled(;1) → DialBegin(caller → ;1) → Newexten(;2 Dial)
        → Newchannel(phone) → DialBegin(;2 → phone) → Newstate(phone Ringing) → Newstate(;1 Ringing)."""
        if not call.in_queue or (call.agent is not None and not call.agent.hungup):
            raise RuntimeError("ring_agent needs a caller waiting in the queue with no member ringing")
        member_name = member_name if member_name is not None else f"坐席{agent_endpoint}"
        if via_local:
            return await self._ring_local_member(call, agent_endpoint, member_name, interface, agent_context)
        interface = interface or f"{self.tech}/{agent_endpoint}"
        caller = call.caller
        agent = self._make_channel(self._pjsip_name(agent_endpoint), linked=caller, caller_num=agent_endpoint,
                                   connected_num=caller.caller_num, connected_name=caller.caller_name,
                                   context=agent_context, exten="s")
        call.agent, call.member_name, call.interface = agent, member_name, interface
        call.agent_is_member = True
        call.ring_started_at = time.monotonic()
        await self._newchannel(agent)
        # app_queue sets appl/data and inherits the caller's exten before calling
        await self._newexten(agent, agent_context, call.did, 1, "AppQueue", "(Outgoing Line)")
        await self._agent_event("AgentCalled", call, [])
        await self._dial_begin(caller, agent, interface)
        await self._set_state(agent, STATE_RINGING)
        self._step_done(call, "ringing")
        return call

    async def _ring_local_member(self, call: Call, endpoint: str, member_name: str, interface: str | None,
                                 context: str) -> Call:
        caller = call.caller
        one, two = await self._local_pair(f"{endpoint}@{context}", caller)
        call.member, call.local = one, (one, two)
        call.member_name, call.interface = member_name, interface or f"Local/{endpoint}@{context}"
        call.agent_is_member = True
        call.ring_started_at = time.monotonic()
        await self._newexten(one, context, call.did, 1, "AppQueue", "(Outgoing Line)")
        phone = self._make_channel(self._pjsip_name(endpoint), linked=caller, caller_num=endpoint,
                                   connected_num=caller.caller_num, connected_name=caller.caller_name,
                                   context=context, exten=endpoint, application="AppDial", app_data="(Outgoing Line)")
        call.agent = phone
        await self._agent_event("AgentCalled", call, [])
        await self._dial_begin(caller, one, f"{endpoint}@{context}")
        await self._newexten(two, context, endpoint, 1, "Dial", f"{self.tech}/{endpoint},30")
        await self._newchannel(phone)
        await self._dial_begin(two, phone, f"{self.tech}/{endpoint}")
        await self._set_state(phone, STATE_RINGING)
        await self._set_state(one, STATE_RINGING)
        self._step_done(call, "ringing")
        return call

    async def dial_outside(self, call: Call, number: str = "13911112222", *, context: str = "overflow",
                           trunk: str = "pstn-trunk") -> Call:
        """The dialplan sends the caller to an outside number (an on-duty mobile, an overflow
        centre) through a Local pair and the trunk, e.g. after the queue timed out:
        [MusicOnHoldStop → QueueCallerLeave] → Newexten(caller Dial Local/<number>@<context>)
        → Newchannel ;1, ;2 → LocalBridge → DialBegin(caller → ;1) → Newexten(;2 Dial) → Newchannel(trunk)
        → DialBegin(;2 → trunk) → Newstate(trunk Ringing). `answer(call)` then connects it."""
        caller = call.caller
        if call.bridge is not None or (call.agent is not None and not call.agent.hungup):
            raise RuntimeError("dial_outside needs a caller who is not talking and nobody ringing")
        await self._moh_stop(caller)
        await self._leave_queue(call)
        await self._newexten(caller, caller.context, caller.exten, 10, "Dial", f"Local/{number}@{context},60")
        one, two = await self._local_pair(f"{number}@{context}", caller)
        outside = self._make_channel(self._pjsip_name(trunk), linked=caller, caller_num=number,
                                     connected_num=caller.caller_num, connected_name=caller.caller_name,
                                     context=context, exten=number, application="AppDial", app_data="(Outgoing Line)")
        call.agent, call.member, call.local, call.agent_is_member = outside, None, (one, two), False
        call.member_name = call.interface = ""
        call.ring_started_at = time.monotonic()
        await self._dial_begin(caller, one, f"{number}@{context}")
        await self._newexten(two, context, number, 1, "Dial", f"{self.tech}/{number}@{trunk},60")
        await self._newchannel(outside)
        await self._dial_begin(two, outside, f"{self.tech}/{number}@{trunk}")
        await self._set_state(outside, STATE_RINGING)
        await self._set_state(one, STATE_RINGING)
        self._step_done(call, f"dial-outside:{number}")
        return call

    async def answer(self, call: Call) -> Call:
        """The ringing leg answers. For a queue member: Newstate(agent Up) → DialEnd(ANSWER)
        → NewConnectedLine(caller) → MusicOnHoldStop → QueueCallerLeave → VarSet(QUEUEPOSITION)
        → AgentConnect → BridgeCreate → BridgeEnter(agent) → BridgeEnter(caller).
        For a transfer target the queue events are left out."""
        agent = call.agent
        if agent is not None and not agent.hungup and call.local is not None:
            return await self._answer_through_local(call, agent, call.local)
        if agent is None or agent.hungup or call.bridge is not None:
            raise RuntimeError("answer needs a ringing leg")
        caller = call.caller
        await self._set_state(agent, STATE_UP)
        await self._dial_end(caller, agent, "ANSWER")
        await self._caller_connected(call, agent)
        bridge = await self._bridge_create()
        call.bridge = bridge
        await self._bridge_enter(bridge, agent)
        await self._bridge_enter(bridge, caller)
        self._step_done(call, "answered")
        return call

    async def _caller_connected(self, call: Call, answered: Channel) -> None:
        """The caller hears `answered`: ConnectedLine, hold music off, and for a queue member
        QueueCallerLeave then AgentConnect."""
        await self._connected_line(call.caller, answered.caller_num, answered.caller_name)
        await self._moh_stop(call.caller)
        call.connected_at = time.monotonic()
        if call.agent_is_member:
            await self._leave_queue(call)
            ring_time = int(call.connected_at - call.ring_started_at)
            await self._agent_event("AgentConnect", call, [
                ("HoldTime", str(self._hold_time(call))), ("RingTime", str(ring_time))])

    async def _answer_through_local(self, call: Call, phone: Channel, local: tuple[Channel, Channel]) -> Call:
        """The phone behind a Local pair answers: Newstate(phone Up) → DialEnd(;2 → phone ANSWER)
        → Newstate(;2 Up) → BridgeCreate(A) → BridgeEnter(phone, ;2) → Newstate(;1 Up) → DialEnd(caller
        → ;1 ANSWER) → [queue: MusicOnHoldStop → QueueCallerLeave → AgentConnect(;1)] → BridgeCreate(B)
        → BridgeEnter(;1, caller), then the optimization: LocalOptimizationBegin → BridgeLeave(phone, A)
        → BridgeLeave(;1, B) → BridgeEnter(phone, B) → LocalOptimizationEnd → BridgeLeave(;2, A)
        → BridgeDestroy(A) → Hangup(;2) → Hangup(;1). After a blonde transfer ;1 already sits in the
        caller's bridge: the steps up to BridgeEnter(;1, caller) are left out."""
        caller = call.caller
        one, two = local
        await self._set_state(phone, STATE_UP)
        await self._dial_end(two, phone, "ANSWER")
        await self._set_state(two, STATE_UP)
        inner = await self._bridge_create()
        await self._bridge_enter(inner, phone)
        await self._bridge_enter(inner, two)
        if call.bridge is not None:  # blonde transfer
            await self._moh_stop(caller)
            await self._optimize(call, call.bridge, inner, phone, local)
            self._step_done(call, "answered")
            return call
        await self._set_state(one, STATE_UP)
        await self._dial_end(caller, one, "ANSWER")
        await self._caller_connected(call, phone)
        outer = await self._bridge_create()
        call.bridge = outer
        await self._bridge_enter(outer, one)
        await self._bridge_enter(outer, caller)
        await self._optimize(call, outer, inner, phone, local)
        self._step_done(call, "answered")
        return call

    async def _optimize(self, call: Call, outer: Bridge, inner: Bridge, phone: Channel, local: tuple[Channel, Channel]) -> None:
        """core_local's optimization: the phone takes ;1's place beside the caller, the pair goes."""
        one, two = local
        optimization = self.channel_block(one, "LocalOne") + self.channel_block(two, "LocalTwo")
        await self.emit("LocalOptimizationBegin", "call", optimization + [("Id", "1")])
        await self._bridge_leave(inner, phone)
        await self._bridge_leave(outer, one)
        await self._bridge_enter(outer, phone, swap=one)
        await self.emit("LocalOptimizationEnd", "call", optimization + [("Success", "Yes"), ("Id", "1")])
        await self._bridge_leave(inner, two)
        await self._bridge_destroy(inner)
        await self._hangup(two, 16)
        await self._hangup(one, 16)
        call.local = None

    async def hangup(self, call: Call, by: str = "caller", cause: int = 16) -> Call:
        """One party hangs up (a BYE). Connected: HangupRequest → AgentComplete(Reason caller|agent)
        → BridgeLeave ×2 → BridgeDestroy → Hangup(that party) → Hangup(the other).
        Not connected yet: by caller = `abandon`; by agent = the ringing leg declines."""
        return await self._end_call(call, by, cause, remote=True)

    async def abandon(self, call: Call) -> Call:
        """The caller gives up before anyone answers. HangupRequest(caller) → [DialEnd(CANCEL)]
        → QueueCallerAbandon → QueueCallerLeave → VarSet(QUEUEPOSITION) → [Hangup(agent, TechCause
        487)] → MusicOnHoldStop → Hangup(caller, 16)."""
        if call.bridge is not None:
            raise RuntimeError("the call is connected; use hangup()")
        return await self._abandon(call, cause=16, remote=True)

    async def ring_no_answer(self, call: Call) -> Call:
        """The ringing member times out; the caller stays in the queue.
        AgentRingNoAnswer → DialEnd(NOANSWER) → Hangup(agent, TechCause 487)."""
        agent = call.agent
        if agent is None or agent.hungup or call.bridge is not None or not call.agent_is_member:
            raise RuntimeError("ring_no_answer needs a ringing queue member")
        ring_ms = int((time.monotonic() - call.ring_started_at) * 1000)
        await self._agent_event("AgentRingNoAnswer", call, [("RingTime", str(ring_ms))])
        await self._dial_end(call.caller, agent, "NOANSWER")
        await self._hangup(agent, 16, CANCELLED_TECH_CAUSE)
        call.agent = None
        self._step_done(call, "no-answer")
        return call

    async def blind_transfer(self, call: Call, exten: str = "2001", context: str = "transfer", *,
                             external: bool = True, target_endpoint: str | None = None) -> Call:
        """The agent blind-transfers the caller to exten@context; the caller then dials the target.

        BlindTransfer(Success) → AgentComplete(Reason transfer) → BridgeLeave(agent)
        → BridgeLeave(caller) → BridgeDestroy → Hangup(agent) → Newexten(caller, Dial)
        → Newchannel(target) → DialBegin → Newstate(target Ringing). `answer(call)` then
        connects the target, `hangup(call)` ends it."""
        agent, bridge = self._connected_legs(call)
        caller = call.caller
        target = target_endpoint or exten
        await self.emit("BlindTransfer", "call", [("Result", "Success")] + self.channel_block(agent, "Transferer")
                        + self.channel_block(caller, "Transferee") + self.bridge_block(bridge)
                        + [("IsExternal", "Yes" if external else "No"), ("Context", context), ("Extension", exten)])
        if call.agent_is_member:
            await self._agent_complete(call, "transfer")
        await self._bridge_leave(bridge, agent)
        await self._bridge_leave(bridge, caller)
        await self._bridge_destroy(bridge)
        call.bridge = None
        await self._hangup(agent, 16)
        await self._newexten(caller, context, exten, 1, "Dial", f"{self.tech}/{target},30")
        await self._dial_new_leg(call, target, context)
        self._step_done(call, f"blind-transfer:{exten}@{context}")
        return call

    async def attended_transfer(self, call: Call, target_endpoint: str = "2002", *, external: bool = True,
                                consult_context: str = "agents") -> Call:
        """The agent consults `target_endpoint` on a new call (its own Linkedid), then transfers.

        Hold(agent) → MusicOnHoldStart(caller) → Newchannel(consult, new Linkedid) → Newstate(Ring)
        → Newexten(Dial) → Newchannel(target) → DialBegin → Newstate(target Ringing) → Newstate(target
        Up) → DialEnd(ANSWER) → Newstate(consult Up) → BridgeCreate(B2) → BridgeEnter ×2
        → AttendedTransfer(DestType Bridge) → AgentComplete(Reason transfer) → BridgeLeave(agent, B1)
        → BridgeLeave(consult, B2) → BridgeLeave(target, B2) → BridgeDestroy(B2) → BridgeEnter(target,
        B1; the target takes the caller's Linkedid) → MusicOnHoldStop(caller) → Hangup(agent)
        → Hangup(consult)."""
        agent, orig_bridge, consult, target = await self._consult(call, target_endpoint, consult_context)
        caller = call.caller
        await self._dial_begin(consult, target, target_endpoint)
        await self._set_state(target, STATE_RINGING)
        await self._set_state(target, STATE_UP)
        await self._dial_end(consult, target, "ANSWER")
        await self._set_state(consult, STATE_UP)
        second = await self._bridge_create()
        await self._bridge_enter(second, target)
        await self._bridge_enter(second, consult)
        await self.emit("AttendedTransfer", "call", [("Result", "Success")]
                        + self.channel_block(agent, "OrigTransferer") + self.bridge_block(orig_bridge, "Orig")
                        + self.channel_block(consult, "SecondTransferer") + self.bridge_block(second, "Second")
                        + self.channel_block(caller, "Transferee") + self.channel_block(target, "TransferTarget")
                        + [("IsExternal", "Yes" if external else "No"), ("DestType", "Bridge"),
                           ("DestBridgeUniqueid", orig_bridge.uniqueid)])
        if call.agent_is_member:
            await self._agent_complete(call, "transfer")
        await self._bridge_leave(orig_bridge, agent)
        await self._bridge_leave(second, consult)
        await self._bridge_leave(second, target)
        await self._bridge_destroy(second)
        await self._bridge_enter(orig_bridge, target)
        await self._moh_stop(caller)
        await self._hangup(agent, 16)
        await self._hangup(consult, 16)
        call.agent, call.agent_is_member = target, False
        self._step_done(call, f"attended-transfer:{target_endpoint}")
        return call

    async def _consult(self, call: Call, target_endpoint: str, consult_context: str) -> tuple[Channel, Bridge, Channel, Channel]:
        """The agent puts the caller on hold and dials `target_endpoint` (a new Linkedid): Hold →
        MusicOnHoldStart → Newchannel(consult) → Newstate(Ring) → Newexten(Dial) → Newchannel(target).
        The agent, the caller's bridge, the consultation channel and the target."""
        agent, orig_bridge = self._connected_legs(call)
        await self._chan_event("Hold", "call", agent)
        await self._moh_start(call.caller)
        endpoint = agent.name.split("/", 1)[1].rsplit("-", 1)[0]
        consult = self._make_channel(self._pjsip_name(endpoint), caller_num=agent.caller_num,
                                     context=consult_context, exten=target_endpoint)
        await self._newchannel(consult)
        await self._set_state(consult, STATE_RING)
        await self._newexten(consult, consult_context, target_endpoint, 1, "Dial", f"{self.tech}/{target_endpoint},30")
        target = self._make_channel(self._pjsip_name(target_endpoint), linked=consult, caller_num=target_endpoint,
                                    connected_num=consult.caller_num, context="agents", exten=target_endpoint,
                                    application="AppDial", app_data="(Outgoing Line)")
        await self._newchannel(target)
        return agent, orig_bridge, consult, target

    async def blonde_transfer(self, call: Call, target_endpoint: str = "2002", *, consult_context: str = "agents") -> Call:
        """The agent consults `target_endpoint` and completes the transfer while it still rings:
        Hold(agent) → MusicOnHoldStart(caller) → Newchannel(consult, new Linkedid) → Newstate(Ring)
        → Newexten(Dial) → Newchannel(target) → DialBegin(consult → target) → Newstate(target Ringing)
        → Newchannel ;1, ;2 (Local/_attended@transfer) → LocalBridge → BridgeEnter(;1, caller's bridge,
        swapping the agent) → BridgeLeave(agent) → AttendedTransfer(DestType App, DestApp Dial, no
        TransferTarget block) → AgentComplete(Reason transfer) → Hangup(agent) → Hangup(consult: ;2 took
        its place in Dial). `answer(call)` then: the target answers and is swapped in beside the caller."""
        agent, orig_bridge, consult, target = await self._consult(call, target_endpoint, consult_context)
        caller = call.caller
        await self._dial_begin(consult, target, f"{self.tech}/{target_endpoint}")
        await self._set_state(target, STATE_RINGING)
        one, two = await self._local_pair(BLONDE_LOCAL.split("/", 1)[1], agent)
        await self._set_state(one, STATE_UP)
        await self._bridge_enter(orig_bridge, one, swap=agent)
        await self._bridge_leave(orig_bridge, agent)
        await self.emit("AttendedTransfer", "call", [("Result", "Success")]
                        + self.channel_block(agent, "OrigTransferer") + self.bridge_block(orig_bridge, "Orig")
                        + self.channel_block(consult, "SecondTransferer") + self.channel_block(caller, "Transferee")
                        + [("IsExternal", "No"), ("DestType", "App"), ("DestApp", "Dial")])
        if call.agent_is_member:
            await self._agent_complete(call, "transfer")
        await self._hangup(agent, 16)
        await self._hangup(consult, 16)
        call.agent, call.member, call.local, call.agent_is_member = target, None, (one, two), False
        call.member_name = call.interface = ""
        self._step_done(call, f"blonde-transfer:{target_endpoint}")
        return call

    # -- scenario internals --------------------------------------------------------------------

    def _step_done(self, call: Call, label: str) -> None:
        call.history.append(label)
        self._changed()

    @staticmethod
    def _connected_legs(call: Call) -> tuple[Channel, Bridge]:
        if call.ended or call.agent is None or call.bridge is None:
            raise RuntimeError("the call is not connected to an agent")
        return call.agent, call.bridge

    async def _agent_complete(self, call: Call, reason: str) -> None:
        talk = int(time.monotonic() - call.connected_at) if call.connected_at else 0
        await self._agent_event("AgentComplete", call, [
            ("HoldTime", str(self._hold_time(call))), ("TalkTime", str(talk)), ("Reason", reason)])

    async def _dial_new_leg(self, call: Call, endpoint: str, context: str) -> None:
        caller = call.caller
        leg = self._make_channel(self._pjsip_name(endpoint), linked=caller, caller_num=endpoint,
                                 connected_num=caller.caller_num, connected_name=caller.caller_name,
                                 context=context, exten=endpoint, application="AppDial", app_data="(Outgoing Line)")
        call.agent, call.agent_is_member = leg, False
        call.member_name = call.interface = ""
        call.ring_started_at = time.monotonic()
        await self._newchannel(leg)
        await self._dial_begin(caller, leg, endpoint)
        await self._set_state(leg, STATE_RINGING)

    async def _end_call(self, call: Call, by: str, cause: int, *, remote: bool) -> Call:
        if by not in ("caller", "agent"):
            raise ValueError("by must be 'caller' or 'agent'")
        if call.ended:
            return call
        if call.bridge is None:
            if by == "caller":
                return await self._abandon(call, cause, remote)
            return await self._decline(call, cause, remote)
        agent, bridge = self._connected_legs(call)
        party, other = (call.caller, agent) if by == "caller" else (agent, call.caller)
        if remote:
            await self._hangup_request(party, cause)
        if call.agent_is_member:
            await self._agent_complete(call, by)
        await self._bridge_leave(bridge, party)
        await self._bridge_leave(bridge, other)
        await self._bridge_destroy(bridge)
        call.bridge = None
        await self._hangup(party, cause)
        await self._hangup(other, cause)
        call.ended = True
        self._step_done(call, f"hangup:{by}")
        return call

    async def _abandon(self, call: Call, cause: int, remote: bool) -> Call:
        caller, agent = call.caller, call.agent
        if remote:
            await self._hangup_request(caller, cause)
        ringing = agent is not None and not agent.hungup
        if ringing and call.local is not None:
            assert agent is not None
            one, two = call.local
            await self._dial_end(caller, one, "CANCEL")
            await self._dial_end(two, agent, "CANCEL")
        elif ringing:
            assert agent is not None
            await self._dial_end(caller, agent, "CANCEL")
        if call.in_queue:
            await self._queue_event("QueueCallerAbandon", call, [
                ("Queue", call.queue), ("Position", str(self._position(call))),
                ("OriginalPosition", str(call.original_position)), ("HoldTime", str(self._hold_time(call)))])
            await self._leave_queue(call)
        if ringing:
            assert agent is not None
            await self._hangup(agent, 16, CANCELLED_TECH_CAUSE)
            for half in call.local or ():
                await self._hangup(half, 16)
            call.local = None
        await self._moh_stop(caller)
        await self._hangup(caller, cause)
        call.ended = True
        self._step_done(call, "abandoned")
        return call

    async def _decline(self, call: Call, cause: int, remote: bool) -> Call:
        """The ringing leg goes away: a queue member declines (the caller keeps waiting) or the
        transfer target does (Dial returns and the caller's dialplan ends)."""
        agent = call.agent
        if agent is None or agent.hungup:
            raise RuntimeError("nothing is ringing")
        status = "BUSY" if remote else "NOANSWER"
        await self._dial_end(call.caller, agent, status)
        if call.agent_is_member:
            ring_ms = int((time.monotonic() - call.ring_started_at) * 1000)
            await self._agent_event("AgentRingNoAnswer", call, [("RingTime", str(ring_ms))])
        await self._hangup(agent, cause)
        call.agent = None
        if not call.in_queue:
            await self._hangup(call.caller, 16)
            call.ended = True
        self._step_done(call, "declined")
        return call

    async def _hangup_requested(self, channel: Channel, cause: int) -> None:
        """What an AMI Hangup does to a channel of the model."""
        spy = next((s for s in self.spies if s.channel is channel and not s.ended), None)
        if spy is not None:
            spy.stop_cause = cause
            spy.end_reason = spy.end_reason or "hangup action"
            spy.stop.set()
            await spy.finished.wait()
            return
        call, role = self._call_of(channel)
        if call is not None:
            await self._end_call(call, role, cause, remote=False)
        else:
            await self._hangup(channel, cause)

    async def _redirect(self, channel: Channel, context: str, exten: str, priority: int) -> None:
        call, role = self._call_of(channel)
        if channel.bridge_id and channel.bridge_id in self.bridges:
            await self._bridge_leave(self.bridges[channel.bridge_id], channel)
        if call is not None and role == "caller" and call.bridge is None:
            if call.agent is not None and not call.agent.hungup:
                await self._dial_end(channel, call.agent, "CANCEL")
                await self._hangup(call.agent, 16, CANCELLED_TECH_CAUSE)
                call.agent = None
            await self._moh_stop(channel)
            await self._leave_queue(call)
        await self._newexten(channel, context, exten, priority, "NoOp", "")

    # -- AudioSocket spies ---------------------------------------------------------------------

    def _find_spied(self, spec: str, options: str) -> Channel | None:
        if "u" in options:  # exact name or Uniqueid
            return self.find_channel(spec)
        low = spec.lower()
        for channel in self.channels.values():
            if channel.name.lower().startswith(low) and not channel.name.startswith("AudioSocket/"):
                return channel
        return None

    async def _open_audiosocket(self, req: _OriginateRequest) -> AudioSpy | None:
        """chan_audiosocket's request + call: connect, create the channel, send the UUID, answer."""
        if self.version < 18:  # no chan_audiosocket before 18
            return None
        parts = req.resource.split("/")
        service = _split_service(parts[0]) if len(parts) >= 2 else None
        if service is None:
            return None
        try:
            stream_uuid = uuid.UUID(parts[1])
        except ValueError:
            return None
        spied, options = None, ""
        if req.app.lower() == "chanspy":
            spec, _, raw_options = req.data.partition(",")
            options = _chanspy_options(raw_options)
            spied = self._find_spied(spec.strip(), options)
            if spied is None:
                return None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*service), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as exc:
            log.info("AudioSocket connect to %s failed: %s", parts[0], exc)
            return None
        channel = self._make_channel(f"AudioSocket/{parts[0]}-{stream_uuid}", uniqueid=req.channel_id,
                                     caller_num=req.cid_num, caller_name=req.cid_name)
        spy = AudioSpy(uuid=stream_uuid, service=parts[0], channel=channel, spied=spied, app=req.app, data=req.data,
                       options=options, action_id=req.action_id, reader=reader, writer=writer)
        self.spies.append(spy)
        await self._newchannel(channel)
        await self._varset(channel, "AUDIOSOCKET_UUID", str(stream_uuid))
        await self._varset(channel, "AUDIOSOCKET_SERVICE", parts[0])
        for name, value in req.variables:
            await self._varset(channel, name, value)
        try:
            writer.write(encode_frame(KIND_UUID, stream_uuid.bytes))
            await writer.drain()
        except (ConnectionError, OSError):
            await self._hangup(channel, 16)
            spy.ended = True
            spy.finished.set()
            await _close_writer(writer)
            return None
        await self._set_state(channel, STATE_UP)  # the channel driver answers itself
        return spy

    async def _run_spy(self, spy: AudioSpy) -> None:
        reader_task = asyncio.create_task(self._spy_reader(spy))
        try:
            await self._newexten(spy.channel, "default", "s", 1, spy.app, spy.data)
            if spy.spied is not None:
                spy.started = True
                await self.emit("ChanSpyStart", "call", self.channel_block(spy.channel, "Spyer")
                                + self.channel_block(spy.spied, "Spyee"))
                await self._spy_stream(spy)
            else:
                await spy.stop.wait()
        except (ConnectionError, OSError) as exc:
            spy.end_reason = spy.end_reason or f"write failed: {exc}"
        finally:
            reader_task.cancel()
            await asyncio.gather(reader_task, return_exceptions=True)
            await self._finish_spy(spy)

    async def _spy_stream(self, spy: AudioSpy) -> None:
        """ChanSpy writing the spied leg's audio: 320-byte slin frames, paced unless told not to."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not spy.stop.is_set():
            if spy.spied is None or spy.spied.hungup:
                if spy.exits_with_spied:
                    spy.end_reason = spy.end_reason or "spied channel hung up"
                    return
                await spy.stop.wait()  # ChanSpy without E/S waits for another channel: no frames
                return
            chunk, realtime = self._next_spy_chunk(spy)
            spy.writer.write(encode_frame(KIND_SLIN, chunk))
            spy.frames_sent += 1
            await spy.writer.drain()
            if not realtime:
                next_at = loop.time()
                await asyncio.sleep(0)
                continue
            next_at += FRAME_SECONDS
            delay = next_at - loop.time()
            if delay < -0.2:  # fell far behind (a stalled loop): do not burst to catch up
                next_at, delay = loop.time(), 0.0
            if delay > 0:
                try:
                    await asyncio.wait_for(spy.stop.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    def _next_spy_chunk(self, spy: AudioSpy) -> tuple[bytes, bool]:
        audio = self._audio_for(spy.spied)
        if audio is not None and audio is not spy.audio:  # newly registered: play it from the start
            spy.audio, spy.offset, spy.audio_done = audio, 0, False
            if audio.live:  # ... or from where the leg's speech is by now
                now = asyncio.get_running_loop().time()
                if audio.started_at is None:
                    audio.started_at = now
                spy.offset = min(len(audio.pcm), int((now - audio.started_at) / FRAME_SECONDS) * SLIN_FRAME_BYTES)
        if spy.audio is None or spy.offset >= len(spy.audio.pcm):
            if spy.audio is not None and not spy.audio_done:
                spy.audio_done = True
                self._changed()
            return SILENCE_FRAME, True
        chunk = spy.audio.pcm[spy.offset:spy.offset + SLIN_FRAME_BYTES]
        spy.offset += len(chunk)
        if spy.offset >= len(spy.audio.pcm):
            spy.audio_done = True
            self._changed()
        return chunk.ljust(SLIN_FRAME_BYTES, b"\0"), spy.audio.realtime

    async def _spy_reader(self, spy: AudioSpy) -> None:
        """What the gateway sends back. EOF or 0x00 hangs the channel up; since 20.14 so does any
        kind other than audio, or an empty audio message (we model 20+ as such releases)."""
        try:
            while True:
                kind, payload = await read_frame(spy.reader)
                spy.received.append((kind, payload))
                if kind == KIND_HANGUP:
                    spy.end_reason = spy.end_reason or "server sent terminate"
                    break
                if kind in KIND_RATES and payload:
                    continue  # ChanSpy discards what is written to the spy channel
                if self.version >= 20:
                    spy.end_reason = spy.end_reason or f"server sent kind {kind:#04x} ({len(payload)} bytes)"
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            spy.end_reason = spy.end_reason or "server closed the socket"
        spy.stop.set()

    async def _finish_spy(self, spy: AudioSpy) -> None:
        """ChanSpyStop → Hangup of the AudioSocket channel → the socket closes (EOF at the server)."""
        if spy.ended:
            return
        spy.ended = True
        try:
            if spy.started:
                fields = self.channel_block(spy.channel, "Spyer")
                if spy.spied is not None:
                    fields += self.channel_block(spy.spied, "Spyee")
                await self.emit("ChanSpyStop", "call", fields)
            await self._hangup(spy.channel, spy.stop_cause)
        finally:
            await _close_writer(spy.writer)
            spy.finished.set()
            self._changed()

    async def _end_spies_on(self, channel: Channel) -> None:
        ending = [spy for spy in self.spies if spy.spied is channel and not spy.ended and spy.exits_with_spied]
        for spy in ending:
            spy.end_reason = spy.end_reason or "spied channel hung up"
            spy.stop.set()
        for spy in ending:
            try:
                await asyncio.wait_for(spy.finished.wait(), 5.0)
            except asyncio.TimeoutError:
                log.warning("spy %s did not end in time", spy.channel.name)

    # -- the AMI session -----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(reader, writer)
        self._clients.append(client)
        loop = asyncio.get_running_loop()
        auth_timer = loop.call_later(self.auth_timeout, self._auth_expired, client)
        try:
            writer.write(f"Asterisk Call Manager/{self.ami_version}\r\n".encode())
            await writer.drain()
            while True:
                block = await self._read_block(reader)
                if block is None:
                    break
                if not await self._handle(client, *block):
                    break
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            auth_timer.cancel()
            if client in self._clients:
                self._clients.remove(client)
            await _close_writer(writer)
            self._changed()

    @staticmethod
    def _auth_expired(client: _Client) -> None:
        if not client.authenticated:
            client.writer.transport.abort()

    @staticmethod
    async def _read_block(reader: asyncio.StreamReader) -> tuple[list[str], bool] | None:
        """Lines up to an empty one (CRLF or bare LF); None at EOF. Over-long lines are dropped."""
        lines: list[str] = []
        too_long = False
        while True:
            raw = await reader.readline()
            if not raw.endswith(b"\n"):
                return None  # EOF, maybe mid-line: a partial message is never processed
            line = raw[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > MAX_LINE_BYTES:
                too_long = True
                continue
            if not line:
                return lines, too_long
            lines.append(line.decode("utf-8", "replace"))

    @staticmethod
    def _parse(lines: list[str]) -> Headers:
        headers = Headers()
        for line in lines:
            key, sep, value = line.partition(":")
            if sep:
                headers.add(key, value.lstrip(" \t"))
        return headers

    async def _handle(self, client: _Client, lines: list[str], too_long: bool) -> bool:
        msg = self._parse(lines)
        self.actions.append(msg)
        self._changed()
        if too_long:
            return await self._error(client, msg, "Failed to process message: Message line too long")
        if len(lines) > MAX_HEADERS:
            return await self._error(client, msg, "Too many lines in message or allocation failure")
        action = msg.first("Action", skip_empty=True).strip()
        if not action:
            return await self._error(client, msg, "Missing action in request")
        if not client.authenticated and action.lower() not in PRE_LOGIN_ACTIONS:
            return await self._error(client, msg, "Permission denied")
        handler = self._handlers().get(action.lower())
        if handler is None:
            return await self._error(client, msg, f"Invalid/unknown command: {action}. "
                                                  "Use Action: ListCommands to show available commands.")
        return await handler(client, msg)

    def _handlers(self) -> dict[str, Callable[[_Client, Headers], Awaitable[bool]]]:
        return {
            "login": self._act_login, "challenge": self._act_challenge, "logoff": self._act_logoff,
            "ping": self._act_ping, "events": self._act_events, "listcommands": self._act_listcommands,
            "command": self._act_command, "coreshowchannels": self._act_coreshowchannels,
            "originate": self._act_originate, "redirect": self._act_redirect,
            "blindtransfer": self._act_blindtransfer, "atxfer": self._act_atxfer, "hangup": self._act_hangup,
            "setvar": self._act_setvar, "getvar": self._act_getvar,
        }

    # -- writing responses ---------------------------------------------------------------------

    @staticmethod
    def _response(msg: Headers, response: str, message: str | None = None, *, listflag: str | None = None,
                  extra: Fields | None = None) -> bytes:
        """astman_send_response_full: Response, ActionID (if sent), EventList, Message, then extras."""
        fields: Fields = [("Response", response)]
        action_id = msg.first("ActionID")
        if action_id:
            fields.append(("ActionID", action_id))
        if listflag:
            fields.append(("EventList", listflag))
        if message is not None:
            fields.append(("Message", message))
        return _block(fields + (extra or []))

    async def _write(self, client: _Client, data: bytes) -> None:
        client.writer.write(data)
        await self._drain([client])

    async def _ack(self, client: _Client, msg: Headers, message: str | None, extra: Fields | None = None) -> bool:
        await self._write(client, self._response(msg, "Success", message, extra=extra))
        return True

    async def _error(self, client: _Client, msg: Headers, message: str) -> bool:
        await self._write(client, self._response(msg, "Error", message))
        return True

    # -- actions: session ----------------------------------------------------------------------

    async def _act_login(self, client: _Client, msg: Headers) -> bool:
        if client.authenticated:
            return await self._ack(client, msg, "Already authenticated")
        if not self._authenticate(client, msg):
            await asyncio.sleep(self.login_failure_delay)
            await self._write(client, self._response(msg, "Error", "Authentication failed"))
            return False
        client.authenticated = True
        client.username = msg.first("Username")
        mask = _parse_event_mask(msg.first("Events")) if msg.first("Events") else None
        if mask is not None:
            client.event_mask = mask
        await self._ack(client, msg, "Authentication accepted")
        if "system" in client.event_mask:
            uptime = int(time.time() - self._started_at)
            await self._write(client, _block([
                ("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", str(uptime)),
                ("LastReload", str(uptime)), ("Status", "Fully Booted")]))
        self._changed()
        return True

    def _authenticate(self, client: _Client, msg: Headers) -> bool:
        if msg.first("Username").lower() != self.username.lower():
            return False
        if msg.first("AuthType").lower() == "md5":
            key = msg.first("Key").strip().lower()
            if not key or not client.challenge:
                return False
            return key == hashlib.md5((client.challenge + self.secret).encode()).hexdigest()
        return msg.first("Secret") == self.secret

    async def _act_challenge(self, client: _Client, msg: Headers) -> bool:
        if msg.first("AuthType").strip().lower() != "md5":
            return await self._error(client, msg, "Must specify AuthType")
        if not client.challenge:
            client.challenge = str(random.randrange(2**31))
        return await self._ack(client, msg, None, [("Challenge", client.challenge)])

    async def _act_logoff(self, client: _Client, msg: Headers) -> bool:
        await self._write(client, self._response(msg, "Goodbye", "Thanks for all the fish."))
        return False

    async def _act_ping(self, client: _Client, msg: Headers) -> bool:
        return await self._ack(client, msg, None, [("Ping", "Pong"), ("Timestamp", _timestamp())])

    async def _act_events(self, client: _Client, msg: Headers) -> bool:
        mask = _parse_event_mask(msg.first("EventMask"))
        if mask is None:
            return await self._error(client, msg, "Invalid event mask")
        client.event_mask = mask
        return await self._ack(client, msg, None, [("Events", "On" if mask else "Off")])

    async def _act_listcommands(self, client: _Client, msg: Headers) -> bool:
        privileges = {"originate": "originate,all", "coreshowchannels": "system,reporting,all",
                      "hangup": "system,call,all", "getvar": "call,reporting,all", "command": "command,all"}
        extra = [(name, f"{name}. (Priv: {privileges.get(name.lower(), 'call,all')})")
                 for name in ("Login", "Challenge", "Logoff", "Ping", "Events", "ListCommands", "Command",
                              "CoreShowChannels", "Originate", "Redirect", "BlindTransfer", "Atxfer", "Hangup",
                              "Setvar", "Getvar")]
        return await self._ack(client, msg, None, extra)

    async def _act_command(self, client: _Client, msg: Headers) -> bool:
        command = msg.first("Command").strip()
        if not command:
            return await self._error(client, msg, "No command provided")
        if command.lower() == "core show version":
            output = [f"Asterisk {ASTERISK_RELEASES[self.version]} built by fake @ hotline on a x86_64 running Linux"]
        elif command.lower() == "core show channels count":
            live = len(self.channels)
            output = [f"{live} active channel{'s' if live != 1 else ''}",
                      f"{sum(1 for c in self.calls if not c.ended)} active call(s)"]
        else:
            output = [f"No such command '{command}' (type 'core show help {command}' for other possible commands)"]
        return await self._ack(client, msg, "Command output follows", [("Output", line) for line in output])

    # -- actions: channels ---------------------------------------------------------------------

    async def _act_coreshowchannels(self, client: _Client, msg: Headers) -> bool:
        action_id = msg.first("ActionID")
        id_field: Fields = [("ActionID", action_id)] if action_id else []
        data = self._response(msg, "Success", "Channels will follow", listflag="start")
        now = time.monotonic()
        channels = list(self.channels.values())
        for channel in channels:
            data += _block([("Event", "CoreShowChannel")] + id_field + self.channel_block(channel) + [
                ("Application", channel.application), ("ApplicationData", channel.app_data),
                ("Duration", _duration(now - channel.created)), ("BridgeId", channel.bridge_id)])
        data += _block([("Event", "CoreShowChannelsComplete")] + id_field
                       + [("EventList", "Complete"), ("ListItems", str(len(channels)))])
        await self._write(client, data)
        return True

    async def _act_hangup(self, client: _Client, msg: Headers) -> bool:
        target = msg.first("Channel").strip()
        if not target:
            return await self._error(client, msg, "No channel specified")
        cause_text = msg.first("Cause").strip()
        cause = int(cause_text) if cause_text.isdigit() and int(cause_text) <= 127 else 0
        cause = cause or 16
        if not (len(target) > 1 and target.startswith("/") and target.endswith("/")):
            channel = self.find_channel(target)
            if channel is None:
                return await self._error(client, msg, "No such channel")
            await self._ack(client, msg, "Channel Hungup")
            self._spawn(self._hangup_requested(channel, cause))
            return True
        return await self._hangup_regex(client, msg, target, cause)

    async def _hangup_regex(self, client: _Client, msg: Headers, target: str, cause: int) -> bool:
        try:
            pattern = re.compile(target[1:-1])
        except re.error:
            return await self._error(client, msg, f"Regex compile failed on: {target}")
        matched = [ch for ch in self.channels.values() if pattern.search(ch.name)]
        action_id = msg.first("ActionID")
        id_field: Fields = [("ActionID", action_id)] if action_id else []
        data = self._response(msg, "Success", "Channels hung up will follow", listflag="start")
        for channel in matched:
            data += _block([("Event", "ChannelHungup"), ("Channel", channel.name)] + id_field)
        data += _block([("Event", "ChannelsHungupListComplete")] + id_field
                       + [("EventList", "Complete"), ("ListItems", str(len(matched)))])
        await self._write(client, data)
        for channel in matched:
            self._spawn(self._hangup_requested(channel, cause))
        return True

    async def _act_redirect(self, client: _Client, msg: Headers) -> bool:
        name, context = msg.first("Channel").strip(), msg.first("Context").strip()
        exten, priority = msg.first("Exten").strip(), msg.first("Priority").strip()
        for value, complaint in ((name, "Channel not specified"), (context, "Context not specified"),
                                 (exten, "Exten not specified"), (priority, "Priority not specified")):
            if not value:
                return await self._error(client, msg, complaint)
        if not priority.isdigit() or int(priority) < 1:
            return await self._error(client, msg, "Priority is invalid")
        channel = self.find_channel(name)
        if channel is None:
            return await self._error(client, msg, f"Channel does not exist: {name}")
        extra_name = msg.first("ExtraChannel").strip()
        extra = self.find_channel(extra_name) if extra_name else None
        if extra_name and extra is None:
            return await self._error(client, msg, f"ExtraChannel does not exist: {extra_name}")
        await self._ack(client, msg, "Dual Redirect successful" if extra else "Redirect successful")
        self._spawn(self._redirect(channel, context, exten, int(priority)))
        if extra is not None:
            extra_priority = msg.first("ExtraPriority").strip()
            self._spawn(self._redirect(extra, msg.first("ExtraContext").strip() or context,
                                       msg.first("ExtraExten").strip() or exten,
                                       int(extra_priority) if extra_priority.isdigit() else int(priority)))
        return True

    async def _transfer_request(self, client: _Client, msg: Headers) -> tuple[Channel, str] | None:
        """The channel and extension of a BlindTransfer or Atxfer, or None after Asterisk's error."""
        name, exten = msg.first("Channel").strip(), msg.first("Exten").strip()
        if not name:
            await self._error(client, msg, "No channel specified")
            return None
        if not exten:
            await self._error(client, msg, "No extension specified")
            return None
        channel = self.find_channel(name)
        if channel is None:
            await self._error(client, msg, "Channel specified does not exist")
            return None
        return channel, exten

    async def _act_blindtransfer(self, client: _Client, msg: Headers) -> bool:
        if (request := await self._transfer_request(client, msg)) is None:
            return True
        channel, exten = request
        context = msg.first("Context").strip() or channel.context
        call, role = self._call_of(channel)
        if call is None or call.bridge is None or role != "agent":
            # not bridged (Invalid); a caller-side transfer is not modelled (Fail)
            result = "Invalid" if call is None or call.bridge is None else "Fail"
            await self._error(client, msg, "Transfer invalid" if result == "Invalid" else "Transfer failed")
            await self.emit("BlindTransfer", "call", [("Result", result)] + self.channel_block(channel, "Transferer")
                            + [("IsExternal", "Yes"), ("Context", context), ("Extension", exten)])
            return True
        await self._ack(client, msg, "Transfer succeeded")
        self._spawn(self.blind_transfer(call, exten, context, external=True))
        return True

    async def _act_atxfer(self, client: _Client, msg: Headers) -> bool:
        if (request := await self._transfer_request(client, msg)) is None:
            return True
        channel, exten = request
        if not self.atxfer_feature:
            return await self._error(client, msg, "No attended transfer feature code found")
        await self._ack(client, msg, "Atxfer successfully queued")
        call, role = self._call_of(channel)
        if call is not None and call.bridge is not None and role == "agent":
            self._spawn(self.attended_transfer(call, target_endpoint=exten, external=False))
        return True

    async def _act_setvar(self, client: _Client, msg: Headers) -> bool:
        name, variable, value = msg.first("Channel").strip(), msg.first("Variable").strip(), msg.first("Value")
        if not variable:
            return await self._error(client, msg, "No variable specified")
        channel = None
        if name:
            channel = self.find_channel(name)
            if channel is None:
                return await self._error(client, msg, "No such channel")
        await self._ack(client, msg, "Variable Set")
        await self._varset(channel, variable, value)
        return True

    async def _act_getvar(self, client: _Client, msg: Headers) -> bool:
        name, variable = msg.first("Channel").strip(), msg.first("Variable").strip()
        if not variable:
            return await self._error(client, msg, "No variable specified")
        channel = None
        if name:
            channel = self.find_channel(name)
            if channel is None:
                return await self._error(client, msg, "No such channel")
        value = self._getvar(channel, variable) if channel else self.global_vars.get(variable.lstrip("_"), "")
        return await self._ack(client, msg, None, [("Variable", variable), ("Value", value)])

    def _getvar(self, channel: Channel, variable: str) -> str:
        """Channel variables plus the builtins and functions a client is likely to ask for."""
        upper = variable.upper()
        builtins = {"CHANNEL": channel.name, "UNIQUEID": channel.uniqueid, "CONTEXT": channel.context,
                    "EXTEN": channel.exten, "PRIORITY": str(channel.priority),
                    "CALLERID(NUM)": channel.caller_num, "CALLERID(NAME)": channel.caller_name,
                    "CONNECTEDLINE(NUM)": channel.connected_num, "CONNECTEDLINE(NAME)": channel.connected_name,
                    "CHANNEL(NAME)": channel.name, "CHANNEL(UNIQUEID)": channel.uniqueid,
                    "CHANNEL(LINKEDID)": channel.linkedid, "CHANNEL(LANGUAGE)": channel.language,
                    "CHANNEL(STATE)": channel.state_desc}
        if upper in builtins:
            return builtins[upper]
        return channel.variables.get(variable.lstrip("_"), "")

    # -- actions: Originate ----------------------------------------------------------------------

    async def _act_originate(self, client: _Client, msg: Headers) -> bool:
        channel = msg.first("Channel").strip()
        app, exten = msg.first("Application").strip(), msg.first("Exten").strip()
        context, priority = msg.first("Context").strip(), msg.first("Priority").strip()
        timeout = msg.first("Timeout").strip()
        if not channel:
            return await self._error(client, msg, "Channel not specified")
        if priority and not priority.lstrip("-").isdigit():
            return await self._error(client, msg, "Invalid priority")
        if timeout and not timeout.lstrip("-").isdigit():
            return await self._error(client, msg, "Invalid timeout")
        tech, slash, resource = channel.partition("/")
        if not slash or not tech:
            return await self._error(client, msg, "Invalid channel")
        if not app and not (exten and context and priority):
            return await self._error(client, msg, "Originate with 'Exten' requires 'Context' and 'Priority'")
        cid_num, cid_name = _parse_callerid(msg.first("CallerID"))
        variables: list[tuple[str, str]] = []
        for header in msg.all("Variable"):
            for pair in header.split(","):
                key, _, value = pair.partition("=")
                if key.strip():
                    variables.append((key.strip(), value))
        req = _OriginateRequest(
            action_id=msg.first("ActionID"), channel=channel, tech=tech, resource=resource, app=app,
            data=msg.first("Data"), context=context, exten=exten, cid_num=cid_num, cid_name=cid_name,
            channel_id=msg.first("ChannelId").strip(), variables=variables)
        if msg.first("Async").strip().lower() in SOFT_TRUE:
            await self._ack(client, msg, "Originate successfully queued")
            self._spawn(self._originate(req, emit_response=True))
            return True
        if await self._originate(req, emit_response=False):
            return await self._ack(client, msg, "Originate successfully queued")
        return await self._error(client, msg, "Originate failed")

    async def _originate(self, req: _OriginateRequest, *, emit_response: bool) -> bool:
        """fast_originate(): request + dial the channel, then OriginateResponse (async only)."""
        spy = await self._open_audiosocket(req) if req.tech.lower() == "audiosocket" else None
        if spy is None:
            if emit_response:
                await self._originate_response(req, None, reason=0)
            return False
        if emit_response:
            await self._originate_response(req, spy.channel, reason=4)
        self._spawn(self._run_spy(spy))
        return True

    async def _originate_response(self, req: _OriginateRequest, channel: Channel | None, reason: int) -> None:
        fields: Fields = [("ActionID", req.action_id)] if req.action_id else []
        fields += [("Response", "Success" if channel else "Failure"),
                   ("Channel", channel.name if channel else req.channel)]
        if req.app:
            fields += [("Application", req.app), ("Data", req.data)]
        else:
            fields += [("Context", req.context), ("Exten", req.exten)]
        fields += [("Reason", str(reason)),
                   ("Uniqueid", channel.uniqueid if channel else (req.channel_id or UNKNOWN)),
                   ("CallerIDNum", req.cid_num or UNKNOWN), ("CallerIDName", req.cid_name or UNKNOWN)]
        await self.emit("OriginateResponse", "call", fields)
