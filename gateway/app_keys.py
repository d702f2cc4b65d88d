"""Typed application state of the kernel (aiohttp `web.AppKey`s). Packages above the kernel
declare their own keys beside the types they hold (`triage/app_keys.py`,
`knowledge_base/app_keys.py`, each channel's `keys.py`)."""
from __future__ import annotations

import asyncio

from aiohttp import web
from redis.asyncio import Redis

from gateway.blobs import BlobStore
from gateway.call_transfer import CallTransfer
from gateway.intake import Intake
from gateway.live_events import LiveHub
from gateway.metrics import Metrics
from gateway.outbox import Outbox
from gateway.rate_limits import RateLimiter
from gateway.sessions import Sessions
from gateway.settings import Settings
from gateway.tickets import Tickets
from gateway.users import Users

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", Redis)
METRICS = web.AppKey("metrics", Metrics)
TICKETS = web.AppKey("tickets", Tickets)
INTAKE = web.AppKey("intake", Intake)
USERS = web.AppKey("users", Users)
SESSIONS = web.AppKey("sessions", Sessions)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
BLOBS = web.AppKey("blobs", BlobStore)
LIVE_HUB = web.AppKey("live_hub", LiveHub)
OUTBOX = web.AppKey("outbox", Outbox)
STOP = web.AppKey("stop", asyncio.Event)
"""Set when the gateway shuts down: background loops end on it."""
CALL_TRANSFER = web.AppKey("call_transfer", CallTransfer)
"""Puts a live call through to another number (set by the phone channel, used by the partner desk)."""
