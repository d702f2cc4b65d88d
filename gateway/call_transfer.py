"""Putting a live call through to another hotline, as one channel offers it to another.

The partner desk transfers a ticket to Tianjin or Hebei and, when the citizen is still on the
phone, moves the call too. The phone channel implements this (on the instance that holds the AMI
session, or by a command to it); the partner channel only sees this interface, so neither
imports the other.
"""
from __future__ import annotations

from typing import Protocol


class TransferUnavailable(Exception):
    """No instance that talks to the PBX answered in time: nothing was transferred."""


class TransferFailed(Exception):
    """The PBX refused the transfer (str(exc) says why, for the agent)."""


class CallTransfer(Protocol):
    async def transfer(self, call_id: str, route: str) -> bool:
        """Put the caller of live call `call_id` through to `route`. False when the call is no
        longer connected (nothing to move); raises TransferUnavailable or TransferFailed."""
        ...
