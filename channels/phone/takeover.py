"""What a new phone leader takes over from the one before it (killed, or stepped down when its
lease ran out): the spies it left streaming to the speech nodes, whose events no one reads any
more, and the clock of its calls.

A spy belongs to the leader that originated it (its stream id is in that leader's relay). Any
other stream a node holds is an orphan: the new leader hangs its AudioSocket channel up (the
node then ends the stream and frees the place) and spies the leg again itself.
"""
from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from channels.phone.calls import is_spy
from channels.phone.nodes import LegAssignment, SpeechNodes

UUID_LENGTH = 36


@dataclass(frozen=True)
class Orphan:
    node_id: str
    leg: LegAssignment
    spy_channel: str  # its AudioSocket channel on Asterisk ("": gone, or the spy never came)


def stream_of(channel: str) -> str:
    """The stream id in an AudioSocket channel's name (`AudioSocket/<host:port>-<uuid>`)."""
    return channel[-UUID_LENGTH:] if is_spy(channel) else ""


async def find_orphans(nodes: SpeechNodes, channels: list[Mapping[str, str]], own: Collection[str]) -> list[Orphan]:
    """The legs the nodes hold that are not this leader's, with their spy channels from
    CoreShowChannels."""
    spies = {stream_of(name): name for name in (str(c.get("Channel", "")) for c in channels) if is_spy(name)}
    return [Orphan(node_id, leg, spies.get(leg.stream_id, "")) for node_id, leg in await nodes.held() if leg.stream_id not in own]


def call_start(live_view: bytes | str | None) -> float | None:
    """When the call started, as the previous leader stored it in the live calls hash: a new
    leader keeps the call's clock, so the transcript's times before and after it line up."""
    if not live_view:
        return None
    try:
        return datetime.fromisoformat(json.loads(live_view)["started_at"]).timestamp()
    except (ValueError, KeyError, TypeError):
        return None
