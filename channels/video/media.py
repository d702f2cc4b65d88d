"""The aiortc side of one session, in the instance that holds its peer connections: the
citizen's media is recorded and relayed to the agent who answers, the agent's media is relayed
back to the citizen. Nothing here knows about tickets or the queue."""
from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, cast

import av
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from channels.video.recorder import Recording
from channels.video.settings import VideoSettings

log = logging.getLogger(__name__)
_BACKGROUND: set[asyncio.Task[None]] = set()  # fire-and-forget tasks, referenced until they finish

Gone = Callable[[str], Coroutine[Any, Any, None]]  # a coroutine: run with create_task


class OfferError(ValueError):
    """The browser's offer cannot be used (unparsable, no video, wrong codecs)."""


class AgentTrack(MediaStreamTrack):
    """What the citizen receives: nothing until an agent answers, then the agent's media. The
    citizen's offer is answered before any agent exists, so this stands in on that answer and
    the agent's connection needs no renegotiation with the citizen."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._source: MediaStreamTrack | None = None
        self._ready = asyncio.Event()
        self.last_frame_at: float | None = None  # monotonic; None until an agent's media is attached

    def attach(self, source: MediaStreamTrack) -> None:
        self._source = source
        self.last_frame_at = time.monotonic()
        self._ready.set()

    async def recv(self) -> av.VideoFrame | av.AudioFrame:
        await self._ready.wait()
        if self.readyState != "live" or self._source is None:
            raise MediaStreamError
        # aiortc types recv() as Frame | Packet; the citizen's media tracks yield decoded frames.
        frame = cast("av.VideoFrame | av.AudioFrame", await self._source.recv())
        self.last_frame_at = time.monotonic()
        return frame


class BoundedVideo(MediaStreamTrack):
    """The citizen's video, scaled down when a browser sends more than the configured bounds
    (the page asks for less, but the server does not rely on it)."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, max_width: int, max_height: int) -> None:
        super().__init__()
        self._source = source
        self._max = (max_width, max_height)

    async def recv(self) -> av.VideoFrame:
        # aiortc types recv() as Frame | Packet; a video track yields video frames.
        frame = cast(av.VideoFrame, await self._source.recv())
        if frame.width <= self._max[0] and frame.height <= self._max[1]:
            return frame
        scale = min(self._max[0] / frame.width, self._max[1] / frame.height)
        out = frame.reformat(width=int(frame.width * scale) // 2 * 2, height=int(frame.height * scale) // 2 * 2)
        out.pts, out.time_base = frame.pts, frame.time_base
        return out


def rtc_configuration(settings: VideoSettings) -> RTCConfiguration:
    urls = [u.strip() for u in settings.video_ice_servers.split(",") if u.strip()]
    servers = [RTCIceServer(urls=u, username=settings.video_ice_username or None, credential=settings.video_ice_credential or None)
               for u in urls]
    return RTCConfiguration(iceServers=servers)


def shape_answer(sdp: str, settings: VideoSettings) -> str:
    """Bound the browser's video bitrate (b=AS/TIAS in the video section) and advertise only the
    configured local addresses, if any."""
    allowed = {a.strip() for a in settings.video_ice_addresses.split(",") if a.strip()}
    kbps = settings.video_max_bitrate_kbps
    out: list[str] = []
    in_video = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            in_video = line.startswith("m=video")
        if allowed and line.startswith("a=candidate:") and line.split()[4] not in allowed:
            continue
        if line.startswith("b=") and in_video:
            continue
        out.append(line)
        if in_video and line.startswith("c="):
            out += [f"b=AS:{kbps}", f"b=TIAS:{kbps * 1000}"]
    return "\r\n".join(out) + "\r\n"


_SDP_LINE = re.compile(r"^[a-z]=.*$")


def check_offer(sdp: str) -> None:
    lines = [line for line in sdp.splitlines() if line]
    if not lines or not lines[0].startswith("v=0") or not all(_SDP_LINE.match(line) for line in lines):
        raise OfferError("not an SDP offer")
    if not any(line.startswith("m=video") for line in lines):
        raise OfferError("no video")


class MediaSession:
    def __init__(self, session_id: str, settings: VideoSettings, recordings: Path, on_gone: Gone) -> None:
        self.session_id = session_id
        self.settings = settings
        self._on_gone = on_gone
        self._config = rtc_configuration(settings)
        self.citizen = RTCPeerConnection(self._config)
        self.agent: RTCPeerConnection | None = None
        self.relay = MediaRelay()
        self.incoming: dict[str, MediaStreamTrack] = {}
        self.outgoing = {"video": AgentTrack("video"), "audio": AgentTrack("audio")}
        self.recording = Recording(recordings / f"{session_id}.webm", settings.video_max_width,
                                   settings.video_max_height, settings.video_max_framerate, settings.video_max_bitrate_kbps)
        self._tasks: list[asyncio.Task[None]] = []
        self._gone = False
        self._closed = False

    async def answer_citizen(self, offer_sdp: str) -> str:
        check_offer(offer_sdp)
        pc = self.citizen

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                track = BoundedVideo(track, self.settings.video_max_width, self.settings.video_max_height)
            self.incoming[track.kind] = track

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._lost("disconnected")

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as exc:  # aiortc raises ValueError, KeyError, ... on odd offers
            raise OfferError(str(exc)) from None
        if "video" not in self.incoming:
            raise OfferError("the offer sends no video")
        for track in self.outgoing.values():
            pc.addTrack(track)
        await pc.setLocalDescription(await pc.createAnswer())
        # Every incoming frame is consumed at once by the recording (an unread aiortc track
        # queues frames without bound), which also tells the watchdog that media flows.
        self.recording.start([self.relay.subscribe(t) for t in self.incoming.values()])
        self._tasks.append(asyncio.create_task(self._watch_media(), name=f"video-watch-{self.session_id}"))
        return shape_answer(pc.localDescription.sdp, self.settings)

    async def answer_agent(self, offer_sdp: str) -> str:
        check_offer(offer_sdp)
        pc = RTCPeerConnection(self._config)
        self.agent = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind in self.outgoing:
                self.outgoing[track.kind].attach(self.relay.subscribe(track, buffered=track.kind == "audio"))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._lost("agent_disconnected")

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as exc:
            raise OfferError(str(exc)) from None
        for kind, track in self.incoming.items():
            # Video: the newest frame only, so a slow link drops frames instead of adding delay.
            pc.addTrack(self.relay.subscribe(track, buffered=kind == "audio"))
        await pc.setLocalDescription(await pc.createAnswer())
        return shape_answer(pc.localDescription.sdp, self.settings)

    async def _watch_media(self) -> None:
        """Media that stops flowing ends the session: the citizen's, or once an agent answered,
        the agent's (a closed page or a dead network is seen here within the timeout, whether or
        not the peer connection ever reports it)."""
        timeout = self.settings.video_media_timeout_seconds
        while not self._closed:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = time.monotonic()
            if now - self.recording.last_frame_at > timeout:
                await self._lost("media_timeout")
                return
            agent_frames = [t.last_frame_at for t in self.outgoing.values() if t.last_frame_at is not None]
            if agent_frames and now - max(agent_frames) > timeout:
                await self._lost("agent_disconnected")
                return

    async def _lost(self, reason: str) -> None:
        if self._gone or self._closed:
            return
        self._gone = True
        log.info("video media lost", extra={"session": self.session_id, "reason": reason})
        # On its own task: the callback may come from inside aiortc, which close() will stop.
        # Kept referenced until done: the loop holds tasks only weakly, and a collected task
        # would leave the session open and the citizen never told.
        task = asyncio.get_running_loop().create_task(self._on_gone(reason))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

    async def close(self) -> Path | None:
        """Stop everything; the finished recording's path if it holds video."""
        if self._closed:
            return None
        self._closed = True
        for task in self._tasks:
            task.cancel()
        recorded = await self.recording.stop()
        for pc in (self.citizen, self.agent):
            if pc is not None:
                await pc.close()
        return self.recording.path if recorded else None

    @property
    def frames_recorded(self) -> int:
        return self.recording.video_frames
