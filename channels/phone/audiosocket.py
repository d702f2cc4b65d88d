"""AudioSocket server: Asterisk connects here, one TCP connection per call leg.

Framing (../shared/specs/audiosocket.md): kind (1 byte), length (2 bytes, big-endian), payload;
audio is s16le. The first message must be the stream UUID, which we registered before asking
Asterisk for the stream; nothing else authenticates the peer, so connections are also limited
to an allow-list of addresses. The reader never stalls (Asterisk's writes fail rather than
wait): frames go straight to the leg's recogniser queue.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_SLIN = 0x10
KIND_ERROR = 0xFF
KIND_RATES = {0x11: 12000, 0x12: 16000, 0x13: 24000, 0x14: 32000, 0x15: 44100, 0x16: 48000, 0x17: 96000, 0x18: 192000}

FIRST_MESSAGE_TIMEOUT = 5.0
IDLE_TIMEOUT = 60.0  # a spy channel sends a frame every 20 ms; a minute of nothing is a dead peer
MAX_UNKNOWN_KINDS = 20  # more than this and the stream is garbage, not a newer Asterisk
EXPECTED_TTL = 60.0

CloseReason = Literal["eof", "hangup", "truncated", "reset", "idle", "protocol_error", "peer_error", "shutdown"]


@dataclass
class ExpectedStream:
    stream_id: uuid.UUID
    linkedid: str
    leg: Literal["caller", "agent"]
    channel: str
    registered_at: float = field(default_factory=time.monotonic)
    ticket_id: str = ""


class StreamSink(Protocol):
    def audio(self, pcm: bytes, rate: int) -> None: ...
    def dtmf(self, digit: str) -> None: ...
    async def closed(self, reason: CloseReason, detail: str) -> None: ...


StreamOpener = Callable[[ExpectedStream], Awaitable[StreamSink | None]]
StreamLookup = Callable[[uuid.UUID], Awaitable[ExpectedStream | None]]


def parse_address(address: str) -> tuple[str, int]:
    """`127.0.0.1:9092`, `[::1]:9092` or `:9092`."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"not host:port: {address!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


class AudioSocketServer:
    def __init__(self, listen: str, allow: list[str], opener: StreamOpener, slin_rate: int = 8000,
                 lookup: StreamLookup | None = None) -> None:
        self.host, self.requested_port = parse_address(listen)
        self.allow = [ipaddress.ip_network(a.strip(), strict=False) for a in allow if a.strip()]
        self.opener = opener
        self.lookup = lookup  # where streams not expect()ed here are registered (a speech node: Redis)
        self.slin_rate = slin_rate
        self.expected: dict[uuid.UUID, ExpectedStream] = {}
        self.active: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._stopping = False
        self.rejected = 0
        self.protocol_errors = 0
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.requested_port)

    async def stop(self) -> None:
        """Cut every stream; each leg still decodes and stores what it received (reason
        `shutdown`) before the server is gone."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for writer in list(self.active.values()):
            writer.transport.abort()
        if self.active:
            await asyncio.wait(list(self.active), timeout=10)

    def expect(self, stream: ExpectedStream) -> None:
        now = time.monotonic()
        for key in [k for k, s in self.expected.items() if now - s.registered_at > EXPECTED_TTL]:
            del self.expected[key]
        self.expected[stream.stream_id] = stream

    def forget(self, stream_id: uuid.UUID) -> None:
        self.expected.pop(stream_id, None)

    def _allowed(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in net for net in self.allow)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.active[task] = writer
        peer = (writer.get_extra_info("peername") or ("?",))[0]
        try:
            if not self._allowed(peer):
                self.rejected += 1
                log.warning("AudioSocket connection refused: address not allowed", extra={"peer": peer})
                return
            expected = await self._handshake(reader, peer)
            if expected is None:
                return
            sink = await self.opener(expected)
            if sink is None:
                return
            reason, detail = await self._pump(reader, sink, expected)
            await sink.closed("shutdown" if self._stopping else reason, detail)
        finally:
            self.active.pop(task, None)
            writer.close()

    async def _handshake(self, reader: asyncio.StreamReader, peer: str) -> ExpectedStream | None:
        try:
            header = await asyncio.wait_for(reader.readexactly(3), FIRST_MESSAGE_TIMEOUT)
            kind, length = header[0], int.from_bytes(header[1:3], "big")
            if kind != KIND_UUID or length != 16:
                raise ValueError(f"first message kind 0x{kind:02x} length {length}, expected the 16-byte UUID")
            stream_id = uuid.UUID(bytes=await asyncio.wait_for(reader.readexactly(16), FIRST_MESSAGE_TIMEOUT))
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, ValueError) as exc:
            self.protocol_errors += 1
            log.warning("AudioSocket handshake failed", extra={"peer": peer, "error": str(exc) or type(exc).__name__})
            return None
        expected = self.expected.pop(stream_id, None)
        if expected is None and self.lookup is not None:
            try:
                expected = await self.lookup(stream_id)
            except Exception as exc:  # e.g. Redis unreachable: the stream cannot be placed
                log.warning("AudioSocket stream could not be looked up", extra={"stream": str(stream_id), "error": str(exc) or type(exc).__name__})
        if expected is None:
            self.rejected += 1
            log.warning("AudioSocket stream with an unknown UUID refused", extra={"peer": peer, "stream": str(stream_id)})
        return expected

    async def _pump(self, reader: asyncio.StreamReader, sink: StreamSink, expected: ExpectedStream) -> tuple[CloseReason, str]:
        try:
            # One idle deadline for the whole stream, moved on at most once a second: a wait_for
            # per 20 ms frame cost a task per frame on the event loop.
            async with asyncio.timeout(IDLE_TIMEOUT) as idle:
                return await self._frames(reader, sink, expected, idle)
        except TimeoutError:
            return "idle", f"no frame for {IDLE_TIMEOUT:.0f}s"

    async def _frames(self, reader: asyncio.StreamReader, sink: StreamSink, expected: ExpectedStream,
                      idle: asyncio.Timeout) -> tuple[CloseReason, str]:
        unknown = 0
        odd_logged = False
        loop = asyncio.get_running_loop()
        moved_at = loop.time()
        while True:
            try:
                header = await reader.readexactly(3)
            except asyncio.IncompleteReadError as exc:
                return ("eof", "") if not exc.partial else ("truncated", f"{len(exc.partial)} byte(s) of a header")
            except ConnectionError as exc:
                return "reset", type(exc).__name__
            now = loop.time()
            if now - moved_at >= 1.0:
                moved_at = now
                idle.reschedule(now + IDLE_TIMEOUT)
            kind, length = header[0], int.from_bytes(header[1:3], "big")
            try:
                payload = await reader.readexactly(length) if length else b""
            except asyncio.IncompleteReadError as exc:
                # The length promised more than arrived: keep what we have, end the leg.
                self.protocol_errors += 1
                return "truncated", f"kind 0x{kind:02x} announced {length} bytes, {len(exc.partial)} arrived"
            except ConnectionError as exc:
                return "reset", type(exc).__name__
            if kind == KIND_SLIN or kind in KIND_RATES:
                if length % 2:
                    if not odd_logged:
                        log.warning("AudioSocket audio frame with an odd length; last byte ignored", extra={"stream": str(expected.stream_id), "length": length})
                        odd_logged = True
                    payload = payload[:-1]
                if payload:
                    sink.audio(payload, self.slin_rate if kind == KIND_SLIN else KIND_RATES[kind])
            elif kind == KIND_DTMF:
                if length == 1:
                    sink.dtmf(payload.decode("ascii", "replace"))
            elif kind == KIND_HANGUP:
                return "hangup", ""
            elif kind == KIND_ERROR:
                return "peer_error", payload.hex()
            else:
                unknown += 1
                log.info("AudioSocket message of unknown kind skipped", extra={"kind": kind, "length": length})
                if unknown > MAX_UNKNOWN_KINDS:
                    self.protocol_errors += 1
                    return "protocol_error", f"{unknown} messages of unknown kinds: not an AudioSocket stream"
