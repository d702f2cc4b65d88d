"""A speech node's CPU per leg for the frame path alone: AudioSocket → leg queue → silence gate →
executor hop, with silence so that Vosk never runs. This is the event-loop share of a leg (the
part of its cost that is not decoding), measured as CPU time, so other load on the machine
does not change the figure much.

    .venv/bin/python bench/speech_frames.py [--legs 40] [--seconds 10]

The receiver is a child process: the real AudioSocketServer and SpeechEngine (the real model
loaded, the silence gate on) with a sink that keeps nothing. This process plays Asterisk: one
TCP connection per leg, a 320-byte slin frame every 20 ms. Baseline, same run: the receiver with
a bare sink (frames parsed and dropped), so the ratio is what the leg's own path costs on top of
reading the socket.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from channels.phone.audiosocket import KIND_SLIN, AudioSocketServer, CloseReason, ExpectedStream  # noqa: E402
from peers.asterisk import encode_frame  # noqa: E402

FRAME = bytes(320)  # 20 ms of 8 kHz silence


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _Dropping:
    def audio(self, pcm: bytes, rate: int) -> None:
        pass

    def dtmf(self, digit: str) -> None:
        pass

    async def closed(self, reason: CloseReason, detail: str) -> None:
        pass


def receiver(mode: str, pipe: Connection) -> None:
    asyncio.run(_receive(mode, pipe))


async def _receive(mode: str, pipe: Connection) -> None:
    from speech.recognizer import LegStream, SpeechEngine

    engine = SpeechEngine()
    await engine.start()
    legs: list[LegStream] = []

    class Leg(_Dropping):
        def __init__(self) -> None:
            self.stream: LegStream | None = None

        def audio(self, pcm: bytes, rate: int) -> None:
            if self.stream is None:
                opened = engine.open_leg(rate, lambda event: None)
                assert isinstance(opened, LegStream)
                self.stream = opened
                legs.append(opened)
            self.stream.feed(pcm, rate)

    async def opener(expected: ExpectedStream) -> _Dropping:
        return Leg() if mode == "leg" else _Dropping()

    server = AudioSocketServer("127.0.0.1:0", ["127.0.0.1"], opener, 8000, lookup=_any_stream)
    await server.start()
    pipe.send(server.port)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)  # "start"
    before = _cpu()
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    pipe.send(_cpu() - before)
    await server.stop()
    await engine.close()


async def _any_stream(stream_id: uuid.UUID) -> ExpectedStream:
    return ExpectedStream(stream_id=stream_id, linkedid="bench", leg="caller", channel="bench")


async def _send(port: int, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode_frame(0x01, uuid.uuid4().bytes))
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    frame = encode_frame(KIND_SLIN, FRAME)
    while not stop.is_set():
        writer.write(frame)
        next_at += 0.02
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    writer.write(encode_frame(0x00, b""))
    await writer.drain()
    writer.close()


async def measure(mode: str, legs: int, seconds: float) -> float:
    """CPU seconds per leg per second of audio in the receiver."""
    parent, child = multiprocessing.get_context("spawn").Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=receiver, args=(mode, child))
    proc.start()
    loop = asyncio.get_running_loop()
    port = await loop.run_in_executor(None, parent.recv)
    stop = asyncio.Event()
    senders = [asyncio.create_task(_send(port, stop)) for _ in range(legs)]
    await asyncio.sleep(2.0)  # every leg open and flowing
    parent.send("start")
    await asyncio.sleep(seconds)
    parent.send("stop")
    cpu = await loop.run_in_executor(None, parent.recv)
    stop.set()
    await asyncio.gather(*senders, return_exceptions=True)
    await loop.run_in_executor(None, proc.join)
    return float(cpu) / legs / seconds


async def main(args: argparse.Namespace) -> None:
    print(f"{args.legs} legs of 20 ms silence frames for {args.seconds:.0f} s, receiver CPU in % of a core per leg")
    for _ in range(args.rounds):
        bare = await measure("bare", args.legs, args.seconds)
        leg = await measure("leg", args.legs, args.seconds)
        print(f"  bare AudioSocket reader {bare * 100:.2f} %, leg path (queue, gate, executor hops) {leg * 100:.2f} %, "
              f"ratio {leg / bare:.2f}; the leg path alone {(leg - bare) * 100:.2f} %", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--legs", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
