"""An aiortc peer that plays a citizen's or an agent's browser: a moving synthetic picture as
a camera would send it, and an offer like a browser's (send video, receive video and audio).
Used by the tests and bench/video.py."""
from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack


class Picture(MediaStreamTrack):
    """A moving synthetic picture at a fixed rate, as a camera would send it."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._n = 0
        self._start = time.monotonic()

    async def recv(self) -> av.VideoFrame:
        self._n += 1
        wait = self._start + self._n / self.fps - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        img = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        img[:, (self._n * 4) % self.width] = 255
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts = self._n * (90000 // self.fps)
        frame.time_base = fractions.Fraction(1, 90000)
        return frame


async def offer(pc: RTCPeerConnection, track: MediaStreamTrack | None = None) -> str:
    """An offer sending `track` (a Picture by default) and receiving video and audio."""
    pc.addTrack(track or Picture())
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp
