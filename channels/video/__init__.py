"""Video channel: WebRTC sessions between deaf and speech-impaired citizens and sign-language
agents, with a text chat beside the video, the citizen's media recorded to the blob store and
relayed to the agent through aiortc in the instance that holds the peer connections.

Shape (like the other channels): `adapter` translates a session into a `Ticket` and back,
`routes` is the HTTP edge, `sessions` the Redis state (queue, sessions, chat) that any instance
can serve, `media` + `recorder` the aiortc side, `service` ties them together."""
from __future__ import annotations

from pathlib import Path

from channels.video import lifecycle, openapi, outbound
from channels.video.settings import VideoSettings
from gateway.channel import Channel, OpenApiPart

CHANNEL = Channel(name="video", outbound=outbound.outbound, settings=VideoSettings, setup=lifecycle.setup, package_dir=Path(__file__).parent,
                  openapi=lambda: OpenApiPart(openapi.MODELS, openapi.paths), desk_panel="desk.js", desk_styles=("desk.css",))
