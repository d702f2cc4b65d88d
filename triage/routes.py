"""Triage's one staff route: a KB editor tries what the bot answers to a sentence (the engine
citizens get, HOTLINE_NLU, each try a fresh conversation of its own)."""
from __future__ import annotations

import secrets

from aiohttp import web

from gateway import clock
from gateway.auth import requires
from gateway.json_io import json_response
from knowledge_base.app_keys import KNOWLEDGE
from knowledge_base.routes import READ, TryIn, read_body
from triage.app_keys import BOT_ENGINE
from triage.decision import Conversation


@requires(*READ)
async def try_bot(request: web.Request) -> web.Response:
    body: TryIn = await read_body(request, TryIn)
    snapshot = request.app[KNOWLEDGE].snapshot
    outcome = await request.app[BOT_ENGINE].decide(body.text, Conversation(), "web", f"kb-try:{secrets.token_hex(8)}", snapshot, clock.now())
    decision = outcome.decision
    out = {**decision.as_dict(), **outcome.record()}
    if decision.entry_id:
        out["entry_title"] = snapshot.entries[decision.entry_id].title
    out["revision"] = snapshot.revision
    return json_response(out)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/kb/try", try_bot, name="kb_try")
