"""Bad input on the call-audio path: garbage bytes, impossible lengths and connection resets on
an AudioSocket stream, streams with unknown UUIDs or from addresses not allowed. Each is
logged, the call's ticket is marked and keeps what was transcribed so far, and the gateway goes
on serving other calls.

Faults are injected by a TCP proxy between the AMI peer's AudioSocket client and the gateway:
the gateway advertises the proxy's address, so Asterisk's (the peer's) real byte stream passes
through it until the fault."""
from __future__ import annotations

import asyncio
import random
import socket
import struct
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway import keys
from peers.asterisk import encode_frame
from tests.support.phone import CLIP_TEXT, PhoneRig, StartPhone, clip_8k
from tests.support.waiting import eventually

FRAME = 3 + 320  # one 20 ms slin frame on the wire


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FaultProxy:
    """Forwards AudioSocket streams to the gateway; after `after_bytes` it injects `fault`."""

    def __init__(self, target_port: int, fault: str, after_bytes: int) -> None:
        self.target_port = target_port
        self.fault = fault
        self.after_bytes = after_bytes
        self.server: asyncio.Server | None = None
        self.injected = asyncio.Event()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        sent = 0
        try:
            while sent < self.after_bytes:
                chunk = await reader.read(4096)
                if not chunk:
                    return
                take = chunk[: self.after_bytes - sent]
                up_writer.write(take)
                await up_writer.drain()
                sent += len(take)
            await self._inject(up_writer)
            self.injected.set()
        finally:
            writer.close()
            if not up_writer.is_closing():
                up_writer.close()

    async def _inject(self, w: asyncio.StreamWriter) -> None:
        if self.fault == "garbage":
            w.write(random.Random(7).randbytes(65536))  # noise: the lengths it implies run past its end
        elif self.fault == "unknown_kinds":
            w.write(b"".join(encode_frame(0x42, b"?") for _ in range(50)))  # well framed, but not AudioSocket
        elif self.fault == "impossible_length":
            w.write(b"\x10\xff\xff" + b"\x00" * 100)  # promises 65535 bytes of audio, then the line goes dead
        elif self.fault == "reset":
            sock = w.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            w.transport.abort()
            return
        await w.drain()
        w.close()


@pytest.fixture
async def proxies() -> AsyncIterator[list[FaultProxy]]:
    made: list[FaultProxy] = []
    yield made
    for p in made:
        await p.stop()


@pytest.mark.parametrize("fault, reason", [
    ("garbage", "truncated"), ("unknown_kinds", "protocol_error"), ("impossible_length", "truncated"), ("reset", "reset")])
async def test_a_broken_audio_stream_marks_the_call_and_keeps_the_transcript(
        start_phone: StartPhone, proxies: list[FaultProxy], fault: str, reason: str) -> None:
    audio = clip_8k()
    gateway_port = free_port()
    proxy = FaultProxy(gateway_port, fault, after_bytes=19 + (len(audio) // 320 + 25) * FRAME)  # the clip, then half a second
    proxies.append(proxy)
    proxy_port = await proxy.start()
    rig: PhoneRig = await start_phone(audiosocket_listen=f"127.0.0.1:{gateway_port}", audiosocket_advertise=f"127.0.0.1:{proxy_port}")

    call = await rig.asterisk.inbound_call(caller_num="13812340000")
    rig.asterisk.set_leg_audio(call.caller_channel, audio, realtime=False)
    await rig.asterisk.ring_agent(call, agent_endpoint="1001", interface="PJSIP/1001")
    await rig.asterisk.answer(call)
    await asyncio.wait_for(proxy.injected.wait(), 30)

    ticket = await rig.ticket_until(call.linkedid, lambda t: any(h.event == "audio_interrupted" and h.detail["leg"] == "caller" for h in t.history))
    marked = next(h for h in ticket.history if h.event == "audio_interrupted" and h.detail["leg"] == "caller")
    assert marked.detail["reason"] == reason
    assert marked.detail["seconds_received"] >= 4.0
    assert CLIP_TEXT in "".join(s.text for s in ticket.transcript if s.leg == "caller")

    # The gateway still serves calls: the next one is filed and popped as usual.
    second = await rig.asterisk.inbound_call(caller_num="13812340001")
    await rig.asterisk.ring_agent(second, agent_endpoint="1002", interface="PJSIP/1002")
    assert (await rig.ticket_of(second.linkedid)).requester.phone == "+8613812340001"
    await rig.asterisk.hangup(call)
    await rig.ticket_until(call.linkedid, lambda t: any(h.event == "call_ended" for h in t.history))


async def _closed_without_a_word(port: int, first: bytes, source: str = "127.0.0.1") -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(first)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5) == b""  # the server closed; it never answers
    except ConnectionResetError:
        return True  # closed with our bytes unread: the kernel answers with a reset
    finally:
        writer.close()


async def test_streams_with_unknown_uuids_bad_first_messages_or_foreign_addresses_are_refused(start_phone: StartPhone) -> None:
    port = free_port()
    rig: PhoneRig = await start_phone(audiosocket_listen=f"127.0.0.1:{port}", audiosocket_allow="127.0.0.1")
    assert await _closed_without_a_word(port, encode_frame(0x01, uuid.uuid4().bytes) + encode_frame(0x10, b"\x00" * 320))
    assert await _closed_without_a_word(port, encode_frame(0x10, b"\x00" * 320))  # audio before the UUID
    assert await _closed_without_a_word(port, b"\x01\x00\x05hello")  # a UUID that is not 16 bytes
    assert await _closed_without_a_word(port, b"GET / HTTP/1.1\r\n\r\n")
    assert await _closed_without_a_word(port, encode_frame(0x01, uuid.uuid4().bytes), source="127.0.0.2")

    async def status() -> dict[str, Any]:
        return (await rig.readyz())["checks"]["phone"]
    # Nothing of this became a call or a ticket.
    assert (await status())["live_calls"] == 0
    assert await rig.redis.keys(keys.idempotency("phone", "*")) == []
    await eventually(status, lambda s: s["ami"] == "connected")
