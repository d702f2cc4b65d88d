"""Consultation chat on the citizen portal: the wire format of `triage.turn` (which decides and
records). When the bot forwards, it asks for a phone number to file the request, and the reply
also carries a pre-filled form for a citizen who would rather add pictures and details there."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from channels.web import adapter, keys
from gateway.app_keys import RATE_LIMITER, SETTINGS
from gateway.client_address import client_address
from gateway.errors import ApiError
from gateway.followups import QUESTION
from gateway.json_io import json_response, read_model
from gateway.rate_limits import RateLimit
from triage.app_keys import TURNS
from triage.turn import Turn

_SESSION = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str = Field(pattern=_SESSION.pattern, description="random id the page keeps for the conversation")
    text: str = Field(min_length=1, max_length=2000)


async def chat(request: web.Request) -> web.Response:
    app = request.app
    body = await read_model(request, ChatIn, _field_message)
    settings = app[SETTINGS]
    allowed, retry_after = await app[RATE_LIMITER].hit(RateLimit(keys.chat_from(client_address(request)), settings.rate_limit_ip_per_hour * 10, 3600))
    if not allowed:
        raise ApiError(429, "rate_limited", "提问过于频繁，请稍后再试；紧急情况请拨打 110、119、120、122", headers={"Retry-After": str(retry_after)})

    turn = await app[TURNS].take("web", body.session_id, body.text, lambda now, message, number: adapter.chat_ticket(body.session_id, body.text, now, message, number))
    return json_response(_reply(turn))


def _field_message(error: Mapping[str, Any]) -> str:
    return "请输入1至2000字的问题" if error["loc"] and error["loc"][0] == "text" else "会话编号无效，请刷新页面"


def _reply(turn: Turn) -> dict[str, Any]:
    decision = turn.decision
    out: dict[str, Any] = {"reply": turn.reply, "decision": decision.type, "ticket_id": turn.ticket_id}
    if turn.filed:
        out["filed"] = True
        return out
    if decision.type == "answer":
        out["entry"] = {"id": decision.entry_id, "version": decision.version}
        # 回访 of the on-the-spot answer: POST /api/v1/chat/followup with this ticket and the session.
        out["followup"] = {"ticket_id": turn.ticket_id, "question": QUESTION}
    if decision.options:
        out["options"] = decision.options
    if decision.line:
        out["line"] = decision.line
    if decision.type in ("forward", "handoff"):
        out["prefill"] = {
            "kind": decision.kind if decision.kind in ("help", "complaint", "report", "suggestion", "consultation") else "unsure",
            "description": turn.description,
            "district": (decision.location or {}).get("district"),
            "address": (decision.location or {}).get("street"),
            "phone": decision.phone,
            "related_ticket": turn.ticket_id,
        }
    return out


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/chat", chat, name="chat")
