"""Typed application state held by triage."""
from __future__ import annotations

from aiohttp import web

from triage.catalogue_store import CatalogueStore
from triage.conversations import Conversations
from triage.engines import BotEngine
from triage.turn import Turns

CONVERSATIONS = web.AppKey("conversations", Conversations)
CATALOGUE = web.AppKey("catalogue", CatalogueStore)
BOT_ENGINE = web.AppKey("bot_engine", BotEngine)
TURNS = web.AppKey("turns", Turns)
