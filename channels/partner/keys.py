"""Typed application state of the partner-hotline channel."""
from __future__ import annotations

from aiohttp import web

from channels.partner.directory import PartnerDirectory

PARTNERS = web.AppKey("partners", PartnerDirectory)
