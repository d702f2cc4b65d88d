"""Redis names of the phone channel (the live call view, read by every desk, is the kernel's
`gateway.keys.LIVE_CALLS`). Its AppKey is in state.py."""
from __future__ import annotations

from gateway.keys import P

LEADER = P + "phone:leader"
"""The phone lease: the instance id of the one gateway that talks to AMI."""
COMMANDS = P + "phone:commands"
"""Desk commands (transfer, hang up) for the leader, from any instance (gateway/instance_rpc.py)."""

SPEECH_NODES = P + "phone:nodes"
"""Set of speech node ids that registered; a member whose heartbeat key is gone is dead."""
SPEECH_EVENTS = P + "phone:speech:events"
"""Stream of what the nodes heard (opened, partial, final, lag, closed), read by the phone leader."""


def speech_node(node_id: str) -> str:
    """The node's heartbeat: JSON {address, capacity, load, ...} with a TTL."""
    return f"{P}phone:node:{node_id}"


def speech_node_legs(node_id: str) -> str:
    """Hash stream uuid -> the leg it carries (linkedid, leg, channel, ticket): the leader writes
    it before the spy is originated, the node reads it when Asterisk connects. Its size is the
    node's load for admission."""
    return f"{P}phone:node:{node_id}:legs"
