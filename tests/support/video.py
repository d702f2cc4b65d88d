"""Helpers for the video tests: Chromium with a fake camera and microphone, desk users with the
sign_language capability, an aiortc "citizen" or "agent" that sends a synthetic picture, and a
PyAV check of a recording."""
from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from playwright.async_api import Browser, async_playwright
from redis.asyncio import Redis

from gateway.users import Users
from peers.video import offer
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
