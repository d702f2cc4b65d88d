"""Records a session's incoming media to a WebM file (VP8 + Opus), encoded in a thread of its
own so that encoding never stalls the event loop that relays the same frames.

Frames arrive with RTP clocks that start at random values, so each stream is placed on the
recording's timeline by when its first frame arrived, then by its own clock."""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = logging.getLogger(__name__)

_MS = Fraction(1, 1000)
_QUEUE_FRAMES = 240  # about 4 s of audio + video; beyond that frames are dropped, not queued forever


class Recording:
    def __init__(self, path: Path, max_width: int, max_height: int, max_framerate: int, bitrate_kbps: int) -> None:
        self.path = path
        self.max_width = max_width
        self.max_height = max_height
        self.min_frame_ms = 1000 / max_framerate * 0.8  # tolerate jitter below the bound
        self.bitrate = bitrate_kbps * 1000
        self.video_frames = 0
        self.dropped = 0
        self.last_frame_at = time.monotonic()  # for the media watchdog
        self._queue: queue.Queue[tuple[str, av.VideoFrame | av.AudioFrame, float] | None] = queue.Queue(_QUEUE_FRAMES)
        self._pumps: list[asyncio.Task[None]] = []
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._write, name=f"recorder-{path.stem}", daemon=True)
        self._error: BaseException | None = None

    def start(self, tracks: list[MediaStreamTrack]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._started = time.monotonic()
        self._kinds = {t.kind for t in tracks}
        self._thread.start()
        self._pumps = [asyncio.create_task(self._pump(t), name=f"record-{t.kind}") for t in tracks]

    async def _pump(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                # aiortc types recv() as Frame | Packet; audio and video tracks yield decoded frames.
                frame = cast("av.VideoFrame | av.AudioFrame", await track.recv())
            except MediaStreamError:
                return
            self.last_frame_at = time.monotonic()
            try:
                self._queue.put_nowait((track.kind, frame, self.last_frame_at - self._started))
            except queue.Full:
                self.dropped += 1

    async def stop(self) -> bool:
        """Finish the file; True if it holds at least one video frame."""
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        if self._thread.is_alive():
            await asyncio.to_thread(self._queue.put, None)
            await asyncio.to_thread(self._thread.join)
        if self._error is not None:
            log.error("recording failed", extra={"file": self.path.name, "error": repr(self._error)})
        return self.video_frames > 0 and self.path.exists()

    def _write(self) -> None:
        try:
            container = av.open(str(self.path), mode="w", format="webm")
        except Exception as exc:  # noqa: BLE001 - reported by stop()
            self._error = exc
            return
        writer = _Writer(container, self, self._kinds)
        try:
            while (item := self._queue.get()) is not None:
                writer.add(*item)
            writer.flush()
        except Exception as exc:  # noqa: BLE001 - a broken frame must not lose what was written
            self._error = exc
        finally:
            container.close()


class _Writer:
    def __init__(self, container: av.container.OutputContainer, rec: Recording, kinds: set[str]) -> None:
        self.container = container
        # Every stream must exist before the first packet is muxed (the header is written then),
        # and the video stream's size comes from its first frame: hold frames until each kind has one.
        self.waiting_for = set(kinds)
        self.held: list[tuple[str, av.VideoFrame | av.AudioFrame, float]] = []
        self.rec = rec
        self.video: av.VideoStream | None = None
        self.audio: av.AudioStream | None = None
        self.origin: dict[str, tuple[float, float]] = {}  # kind -> (arrival s, media clock s) of the first frame
        self.last_video_ms = -1.0
        self.audio_pts = -1

    def _timeline_ms(self, kind: str, frame: av.VideoFrame | av.AudioFrame, arrived: float) -> float:
        clock = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else arrived
        first = self.origin.setdefault(kind, (arrived, clock))
        return (first[0] + clock - first[1]) * 1000

    def add(self, kind: str, frame: av.VideoFrame | av.AudioFrame, arrived: float) -> None:
        if self.waiting_for:
            self.held.append((kind, frame, arrived))
            self.waiting_for.discard(kind)
            if self.waiting_for and len(self.held) < _QUEUE_FRAMES:
                return
            self.waiting_for.clear()  # a kind that never comes (no microphone) is left out
            for item in self._start_streams():
                self._add(*item)
            return
        self._add(kind, frame, arrived)

    def _start_streams(self) -> list[tuple[str, av.VideoFrame | av.AudioFrame, float]]:
        held, self.held = self.held, []
        for kind in ("video", "audio"):
            first = next((f for k, f, _ in held if k == kind), None)
            if first is not None:
                self._open(kind, first)
        return held

    def _open(self, kind: str, frame: av.VideoFrame | av.AudioFrame) -> None:
        if kind == "video":
            assert isinstance(frame, av.VideoFrame)
            # Bounded by the limits whatever the browser sends; even sizes for yuv420p.
            scale = min(1.0, self.rec.max_width / frame.width, self.rec.max_height / frame.height)
            stream = self.container.add_stream("libvpx", rate=30)
            stream.width = max(2, int(frame.width * scale) // 2 * 2)
            stream.height = max(2, int(frame.height * scale) // 2 * 2)
            stream.pix_fmt = "yuv420p"
            stream.bit_rate = self.rec.bitrate
            stream.time_base = _MS
            stream.codec_context.time_base = _MS
            stream.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
            stream.codec_context.thread_count = 1  # one thread per recording: sessions are the parallelism
            self.video = stream
        else:
            assert isinstance(frame, av.AudioFrame)
            audio = self.container.add_stream("libopus", rate=48000)
            audio.layout = "stereo" if frame.layout.nb_channels > 1 else "mono"
            audio.bit_rate = 32000
            self.audio = audio

    def _add(self, kind: str, frame: av.VideoFrame | av.AudioFrame, arrived: float) -> None:
        at_ms = self._timeline_ms(kind, frame, arrived)
        if kind == "video":
            assert isinstance(frame, av.VideoFrame)
            self._add_video(frame, at_ms)
        else:
            assert isinstance(frame, av.AudioFrame)
            self._add_audio(frame, at_ms)

    def _add_video(self, frame: av.VideoFrame, at_ms: float) -> None:
        if self.last_video_ms >= 0 and at_ms - self.last_video_ms < self.rec.min_frame_ms:
            return  # over the frame-rate bound
        if self.video is None:
            return
        out = frame.reformat(width=self.video.width, height=self.video.height, format="yuv420p")
        if out is frame:
            # PyAV hands back the frame itself when nothing changes; it is shared with the relay
            # to the agent, so its timestamps must not be touched: stamp a copy.
            out = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
        pts = int(at_ms)
        if pts <= self.last_video_ms:
            pts = int(self.last_video_ms) + 1
        out.pts, out.time_base = pts, _MS
        self.last_video_ms = pts
        for packet in self.video.encode(out):
            self.container.mux(packet)
        self.rec.video_frames += 1

    def _add_audio(self, frame: av.AudioFrame, at_ms: float) -> None:
        if self.audio is None:
            return
        pts = max(int(at_ms * 48), self.audio_pts + 1)
        shared, frame = frame, av.AudioFrame.from_ndarray(frame.to_ndarray(), format=frame.format.name, layout=frame.layout.name)
        frame.sample_rate = shared.sample_rate  # a copy: the original goes on to the agent untouched
        frame.pts, frame.time_base = pts, Fraction(1, 48000)
        self.audio_pts = pts + frame.samples - 1
        for packet in self.audio.encode(frame):
            self.container.mux(packet)

    def flush(self) -> None:
        if self.held:
            for item in self._start_streams():
                self._add(*item)
        for stream in (self.video, self.audio):
            if stream is not None:
                for packet in stream.encode(None):
                    self.container.mux(packet)
