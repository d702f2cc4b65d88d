"""The AudioSocket server on its own, over real TCP, against the peer that writes Asterisk's
framing: every frame size, the 8 kHz and the newer 16 kHz kinds, DTMF, end of stream and the
hangup message, with each stream tied to the call and leg registered for its UUID."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import pytest

from channels.phone.audiosocket import AudioSocketServer, CloseReason, ExpectedStream
from peers.asterisk import encode_frame, stream_audiosocket
from tests.support.waiting import eventually


@dataclass
class Recorded:
    expected: ExpectedStream
    audio: list[tuple[int, int]] = field(default_factory=list)  # (bytes, rate) per frame
    digits: str = ""
    reason: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def audio_frame(self, pcm: bytes, rate: int) -> None:
        self.audio.append((len(pcm), rate))

    def dtmf(self, digit: str) -> None:
        self.digits += digit

    async def closed(self, reason: CloseReason, detail: str) -> None:
        self.reason = reason
        self.done.set()


class Sink:
    """Adapter: the server calls `audio`, the record keeps frames."""

    def __init__(self, record: Recorded) -> None:
        self.record = record
        self.audio = record.audio_frame
        self.dtmf = record.dtmf
        self.closed = record.closed


@pytest.fixture
async def server() -> tuple[AudioSocketServer, dict[uuid.UUID, Recorded]]:
    records: dict[uuid.UUID, Recorded] = {}

    async def opener(expected: ExpectedStream) -> Sink:
        records[expected.stream_id] = Recorded(expected)
        return Sink(records[expected.stream_id])

    srv = AudioSocketServer("127.0.0.1:0", ["127.0.0.1"], opener, slin_rate=8000)
    await srv.start()
    yield srv, records
    await srv.stop()


async def closed_record(records: dict[uuid.UUID, Recorded], stream_id: uuid.UUID) -> Recorded:
    async def probe() -> Recorded | None:
        return records.get(stream_id)
    record = await eventually(probe, lambda r: r is not None and r.done.is_set(), timeout=30)
    assert record is not None
    return record


def expect(srv: AudioSocketServer, leg: str = "caller") -> uuid.UUID:
    stream_id = uuid.uuid4()
    srv.expect(ExpectedStream(stream_id=stream_id, linkedid="1700000000.1", leg=leg, channel="PJSIP/1001-00000001"))  # type: ignore[arg-type]
    return stream_id


@pytest.mark.parametrize("rate, frame_ms, kind", [(8000, 20, 0x10), (8000, 30, 0x10), (16000, 20, 0x12), (48000, 10, 0x16)])
async def test_frames_of_any_size_and_rate_reach_the_leg_in_full(server, rate: int, frame_ms: int, kind: int) -> None:
    srv, records = server
    stream_id = expect(srv)
    pcm = b"\x01\x00" * (rate // 2)  # half a second
    await stream_audiosocket("127.0.0.1", srv.port, stream_id, pcm, rate=rate, frame_ms=frame_ms, realtime=False, kind=kind, dtmf="5#")
    record = await closed_record(records, stream_id)
    assert record.expected.leg == "caller" and record.expected.linkedid == "1700000000.1"
    assert {r for _, r in record.audio} == {rate}
    assert {n for n, _ in record.audio[:-1]} == {rate * 2 * frame_ms // 1000}
    assert sum(n for n, _ in record.audio) >= len(pcm)
    assert record.digits == "5#"
    assert record.reason == "eof"
    assert stream_id not in srv.expected  # one connection per registered stream


async def test_hangup_message_and_a_second_use_of_a_uuid(server) -> None:
    srv, records = server
    stream_id = expect(srv, leg="agent")
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(encode_frame(0x01, stream_id.bytes) + encode_frame(0x10, b"\x00" * 320) + encode_frame(0x00, b""))
    await writer.drain()
    await closed_record(records, stream_id)
    assert records[stream_id].reason == "hangup" and records[stream_id].expected.leg == "agent"
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the server ends the connection and sends nothing
    writer.close()
    # Replaying the same UUID gets nowhere: it was consumed.
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(encode_frame(0x01, stream_id.bytes))
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert list(records) == [stream_id]
