"""Agent routes of the phone channel: the live calls an agent is part of, inserting a suggested
KB answer into the ticket, and confirming a field the transcript pre-filled."""
from __future__ import annotations

import json
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from channels.phone.state import PHONE
from gateway import clock
from gateway.app_keys import REDIS, TICKETS
from gateway.auth import actor, requires
from gateway.errors import ApiError
from gateway.json_io import json_response, read_model
from gateway.keys import LIVE_CALLS
from gateway.sessions import STAFF_SESSION
from gateway.ticket import Answered, HistoryEvent, Message, Status, Ticket
from gateway.tickets import TicketNotFound
from knowledge_base.app_keys import KNOWLEDGE

DESK = ("agent", "supervisor")
PREFILL_FIELDS = ("kind", "location", "callback_phone")


class KbAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry_id: str = Field(min_length=1, max_length=80)


@requires(*DESK)
async def live_calls(request: web.Request) -> web.Response:
    session = request[STAFF_SESSION]
    supervisor = "supervisor" in session["roles"]
    calls = [json.loads(raw) for raw in (await request.app[REDIS].hvals(LIVE_CALLS))]
    mine = [c for c in calls if supervisor or session["user"] == c.get("agent") or session["user"] in c.get("ringing", [])]
    mine.sort(key=lambda c: c["started_at"])
    phone = request.app.get(PHONE)
    return json_response({"calls": mine, "phone": phone.status() if phone is not None else {"ami": "off"}})


async def _change(request: web.Request, change: Any, event: HistoryEvent) -> Ticket:
    try:
        return await request.app[TICKETS].update(request.match_info["ticket_id"], change, event)
    except TicketNotFound:
        raise ApiError(404, "ticket_not_found", "工单不存在") from None


@requires(*DESK)
async def insert_kb_answer(request: web.Request) -> web.Response:
    body = await read_model(request, KbAnswerIn)
    snapshot = request.app[KNOWLEDGE].snapshot
    entry = snapshot.entries.get(body.entry_id)
    at = clock.now()
    if entry is None or not entry.in_force(at):
        raise ApiError(404, "kb_entry_not_found", "该知识条目不存在或已失效")
    user = request[STAFF_SESSION]["user"]

    def insert(ticket: Ticket) -> dict[str, Any]:
        ticket.messages.append(Message(who="agent", at=at, text=entry.answer, source="kb", author=user))
        if ticket.disposition is None:
            ticket.disposition = Answered(at=at, kb_entry_id=entry.entry_id, kb_version=entry.version)
            ticket.status = Status.answered
        return {"entry_id": entry.entry_id, "version": entry.version, "title": entry.title}

    ticket = await _change(request, insert, HistoryEvent(at=at, actor=actor(request), event="kb_answer_inserted"))
    return json_response(ticket.public_json())


@requires(*DESK)
async def confirm_prefill(request: web.Request) -> web.Response:
    field: Literal["kind", "location", "callback_phone"] = request.match_info["field"]  # type: ignore[assignment]
    if field not in PREFILL_FIELDS:
        raise ApiError(404, "unknown_field", "该字段不支持确认")
    user = request[STAFF_SESSION]["user"]
    try:
        current = await request.app[TICKETS].document(request.match_info["ticket_id"])
    except TicketNotFound:
        raise ApiError(404, "ticket_not_found", "工单不存在") from None
    if not any(p.field == field and p.by == "asr" for p in current.provenance):
        raise ApiError(409, "nothing_to_confirm", "该字段不是根据通话转写自动填写的，无需确认")

    def confirm(ticket: Ticket) -> dict[str, Any]:
        for item in reversed(ticket.provenance):
            if item.field == field and item.by == "asr":
                item.confirmed_by = user
                return {"field": field, "segment": item.segment}
        return {}

    ticket = await _change(request, confirm, HistoryEvent(at=clock.now(), actor=actor(request), event="prefill_confirmed"))
    return json_response(ticket.public_json())


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/agent/calls", live_calls, name="live_calls")
    r.add_post("/api/v1/agent/tickets/{ticket_id}/kb-answers", insert_kb_answer, name="insert_kb_answer")
    r.add_post("/api/v1/agent/tickets/{ticket_id}/prefill/{field}/confirm", confirm_prefill, name="confirm_prefill")
