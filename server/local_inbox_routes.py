"""本地收件箱 on the desk: the tickets delivered locally when no CASE_SYSTEM_URL is set, and a
supervisor playing the case system for them (受理, 办理中, 延期, 办结). A mark is a status report
like the case system's and goes through the same `record_case_update`, so the one-command run
shows the whole loop: the desk, `/track` and the citizen's WeChat notice."""
from __future__ import annotations

import json
import uuid
from datetime import datetime

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway import clock, keys
from gateway.app_keys import OUTBOX, REDIS, SETTINGS, TICKETS
from gateway.auth import actor, requires
from gateway.case_updates import CaseUpdateIn, missing_fields, record_case_update
from gateway.delivery_targets import idempotency_key
from gateway.errors import ApiError
from gateway.json_io import json_response, read_model
from gateway.outbox import CASE_HOP
from gateway.redis_values import text
from gateway.ticket import CaseStatus, Ticket


class LocalCaseMarkIn(BaseModel):
    """What a supervisor marks on a local-inbox case; the rest of the report is filled in."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    status: CaseStatus
    unit: str | None = Field(None, min_length=2, max_length=100, description="承办单位; required with `closed`")
    reason: str | None = Field(None, min_length=2, max_length=500, description="延期原因; required with `postponed`")
    due_at: AwareDatetime | None = Field(None, description="new due date; required with `postponed`")
    result: str | None = Field(None, min_length=2, max_length=2000, description="办理结果; required with `closed`")
    note: str | None = Field(None, max_length=500)


@requires("supervisor")
async def local_inbox(request: web.Request) -> web.Response:
    raw = await request.app[REDIS].hvals(keys.LOCAL_INBOX)
    items = sorted((json.loads(r) for r in raw), key=lambda i: i["received_at"], reverse=True)[:500]
    docs = await request.app[REDIS].mget([keys.ticket(i["ticket_id"]) for i in items]) if items else []
    for item, doc in zip(items, docs):
        case = Ticket.model_validate_json(doc).case if doc is not None else None
        item["case_status"] = case.status if case else None
    return json_response({"label": "本地收件箱", "items": items})


@requires("supervisor")
async def mark_case(request: web.Request) -> web.Response:
    app = request.app
    if app[SETTINGS].case_system_url:
        raise ApiError(409, "case_system_configured", "已接入派单系统，办理状态由派单系统回告，不能在本地标记")
    mark: LocalCaseMarkIn = await read_model(request, LocalCaseMarkIn, summary="办理状态填写有误")
    ticket_id = request.match_info["ticket_id"]
    stored = await app[REDIS].hget(keys.LOCAL_INBOX, idempotency_key(ticket_id, CASE_HOP))
    if stored is None:
        raise ApiError(404, "not_in_local_inbox", "该工单不在本地收件箱中")
    at: datetime = clock.now()
    update = CaseUpdateIn(update_id=f"local-{uuid.uuid4().hex}", ticket_id=ticket_id, case_id=json.loads(text(stored))["case_id"],
                          at=at, **mark.model_dump())
    if missing := missing_fields(update):
        raise ApiError(422, "validation_failed", "办理状态填写不完整", missing)
    result = await record_case_update(app[TICKETS], app[OUTBOX], update, actor=actor(request))
    if result.outcome == "ignored":
        raise ApiError(409, "case_closed" if result.ignored_because == "closed" else "out_of_order",
                       "该案件已办结，不能再更改状态" if result.ignored_because == "closed" else "该状态早于案件当前状态，未更改")
    return json_response((await app[TICKETS].get(ticket_id)).public_json())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/supervisor/local-inbox", local_inbox, name="local_inbox")
    app.router.add_post("/api/v1/supervisor/local-inbox/{ticket_id}/status", mark_case, name="local_inbox_mark")
