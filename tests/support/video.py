"""Helpers for the video tests: Chromium with a fake camera and microphone, desk users with the
sign_language capability, an aiortc "citizen" or "agent" that sends a synthetic picture, and a
PyAV check of a recording."""
from __future__ import annotations

import asyncio
import fractions
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import av
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from playwright.async_api import Browser, async_playwright
from redis.asyncio import Redis

from gateway.users import Users
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.desk import PASSWORD

# Fake camera and microphone, no permission prompt; host candidates on loopback, shown as
# addresses (not mDNS names) so the gateway's aiortc can reach them without a resolver.
VIDEO_ARGS = CHROMIUM_ARGS + ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                              "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
                              "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture
async def video_browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}")
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=VIDEO_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def add_desk_user(redis_url: str, username: str, *roles: str, sign_language: bool = False) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await Users(redis).add(username, PASSWORD, list(roles), display_name=f"{username}坐席",
                               capabilities=["sign_language"] if sign_language else [])
    finally:
        await redis.aclose()


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


async def start_citizen(http: aiohttp.ClientSession, base: str, phone: str | None = None) -> tuple[RTCPeerConnection, dict]:
    """An aiortc citizen: the session's JSON answer (status 201 asserted) and its peer connection."""
    pc = RTCPeerConnection()
    sdp = await offer(pc)
    async with http.post(f"{base}/api/v1/video/sessions", json={"type": "offer", "sdp": sdp, "phone": phone}) as r:
        body = await r.json()
        assert r.status == 201, body
    await pc.setRemoteDescription(RTCSessionDescription(body["answer"]["sdp"], "answer"))
    return pc, body


def decoded_video_frames(path: Path) -> tuple[int, int, int]:
    """(frames decoded, width, height) of the first video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = 0
        size = (0, 0)
        for frame in container.decode(stream):
            frames += 1
            size = (frame.width, frame.height)
    return frames, size[0], size[1]
