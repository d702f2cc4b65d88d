"""The dialogue engine the gateway runs: the embedded one, or Rasa beside it (HOTLINE_NLU)."""
from __future__ import annotations

from aiohttp import web

from bot.rasa.client import RasaClient
from gateway.app_keys import SETTINGS
from gateway.settings import Settings
from triage.app_keys import BOT_ENGINE
from triage.engines import BotEngine


def engine_for(settings: Settings) -> BotEngine:
    client = RasaClient(settings.rasa_url, settings.rasa_timeout_seconds) if settings.nlu == "rasa" else None
    return BotEngine(settings.nlu, client, settings.rasa_retry_seconds, settings.rasa_emergency_guard)


def setup(app: web.Application) -> None:
    """The engine on the app, and with Rasa the action endpoint it calls back."""
    settings = app[SETTINGS]
    engine = engine_for(settings)
    app[BOT_ENGINE] = engine
    if settings.nlu == "rasa":
        from bot.rasa import actions as rasa_actions

        rasa_actions.setup(app)

    async def close(_: web.Application) -> None:
        await engine.close()

    app.on_cleanup.append(close)
