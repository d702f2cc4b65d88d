"""Typed application state of the phone channel (its Redis names are in keys.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from channels.phone.service import PhoneChannel

PHONE: web.AppKey[PhoneChannel | None] = web.AppKey("phone")
"""This instance's phone channel: None when HOTLINE_PHONE is off or its AMI secret is missing."""
