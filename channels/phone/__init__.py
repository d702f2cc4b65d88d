"""Phone channel: Asterisk AMI call tracking, AudioSocket call audio, live transcription on the agent desk."""
from __future__ import annotations

from pathlib import Path

from channels.phone import lifecycle, openapi, outbound
from channels.phone.settings import PhoneSettings
from gateway.channel import Channel, OpenApiPart

CHANNEL = Channel(name="phone", outbound=outbound.outbound, settings=PhoneSettings, setup=lifecycle.setup, package_dir=Path(__file__).parent, desk_panel="desk.js", desk_styles=("desk.css",),
                  readiness=lifecycle.readiness, start_notice=lifecycle.start_notice,
                  openapi=lambda: OpenApiPart(openapi.MODELS, openapi.paths))
