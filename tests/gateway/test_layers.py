"""The architecture holds: the kernel imports no package above it, no channel imports another
channel, there is no import cycle, and a new channel is one package plus one registry line."""
from __future__ import annotations

import sys

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.channel import Channel
from server.registry import CHANNEL_PACKAGES, channels
from tests.support.paths import REPO

sys.path.insert(0, str(REPO / "tools"))
import layers  # noqa: E402 - tools/ is scripts, not a package

EXAMPLE = REPO / "tests" / "support" / "example_channel"
# The files every channel package has, so each reads the same way (docs/architecture.md); `static/`
# when it serves pages or a desk panel.
CHANNEL_FILES = {"__init__.py", "settings.py", "keys.py", "adapter.py", "routes.py", "outbound.py", "openapi.py"}


def test_no_upward_imports_no_channel_to_channel_imports_and_no_cycles() -> None:
    assert layers.violations() == []


def test_the_layer_check_sees_an_upward_import_and_a_cycle() -> None:
    edges = {"gateway.a": {"channels.web.routes"}, "channels.web.routes": {"gateway.a"}}
    assert layers.cycles(edges) == [["channels.web.routes", "gateway.a", "channels.web.routes"]]
    assert layers.LAYER["gateway"] < layers.LAYER["channels"] < layers.LAYER["server"]


def test_every_registered_channel_has_the_same_shape() -> None:
    found = channels()
    assert [c.name for c in found] == [p.rsplit(".", 1)[1] for p in CHANNEL_PACKAGES]
    for channel in found:
        assert isinstance(channel, Channel)
        files = {p.name for p in channel.package_dir.glob("*.py")}
        assert CHANNEL_FILES <= files, (channel.name, sorted(CHANNEL_FILES - files))
        assert channel.settings is not None and channel.outbound is not None and channel.openapi is not None, channel.name
        if channel.desk_panel is not None:
            assert channel.static_dir is not None and (channel.static_dir / channel.desk_panel).is_file(), channel.name
            assert all((channel.static_dir / style).is_file() for style in channel.desk_styles), channel.name


async def test_a_new_channel_is_one_package_and_one_registry_line() -> None:
    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        example = channels((*CHANNEL_PACKAGES, "example_channel"))[-1]
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    assert example.name == "example"
    app = web.Application()
    example.setup(app)
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/api/v1/example/ping")
        assert r.status == 200 and await r.json() == {"channel": "example", "pong": True}
