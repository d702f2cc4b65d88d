"""The baseline of bench/video.py: the least a WebRTC relay can do with aiortc. One process,
no Redis, no recording, no tickets: the citizen's offer is answered with placeholder tracks,
the agent's offer gets the citizen's relayed tracks, the agent's tracks go back.

    python bench/video_bare_relay.py --port 8090
"""
from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from channels.video.media import AgentTrack  # noqa: E402 - the same placeholder the gateway uses

relay = MediaRelay()
sessions: dict[str, dict] = {}


async def citizen(request: web.Request) -> web.Response:
    body = await request.json()
    pc = RTCPeerConnection()
    incoming: dict[str, MediaStreamTrack] = {}
    outgoing = {"video": AgentTrack("video"), "audio": AgentTrack("audio")}
    pc.on("track", lambda t: incoming.__setitem__(t.kind, t))
    await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "offer"))
    for track in outgoing.values():
        pc.addTrack(track)
    await pc.setLocalDescription(await pc.createAnswer())
    sid = secrets.token_hex(6)
    sessions[sid] = {"pcs": [pc], "incoming": incoming, "outgoing": outgoing}
    return web.json_response({"session_id": sid, "sdp": pc.localDescription.sdp})


async def agent(request: web.Request) -> web.Response:
    s = sessions[request.match_info["sid"]]
    body = await request.json()
    pc = RTCPeerConnection()
    s["pcs"].append(pc)
    pc.on("track", lambda t: s["outgoing"][t.kind].attach(relay.subscribe(t, buffered=t.kind == "audio")))
    await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "offer"))
    for kind, track in s["incoming"].items():
        pc.addTrack(relay.subscribe(track, buffered=kind == "audio"))
    await pc.setLocalDescription(await pc.createAnswer())
    return web.json_response({"sdp": pc.localDescription.sdp})


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    app = web.Application()
    app.router.add_post("/citizen", citizen)
    app.router.add_post("/agent/{sid}", agent)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=parser.parse_args().port, print=None, access_log=None)
