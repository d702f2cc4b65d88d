"""Citizen portal routes: the form, the JSON API and the tracking page."""
from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError

from channels.web import keys
from channels.web.access import rate_limited, tracked_ticket
from channels.web.adapter import to_ticket
from channels.web.forms import CitizenRequestIn, field_errors
from channels.web.progress import public_view_of
from channels.web.settings import WebSettings
from channels.web.uploads import Submission, UploadLimits, read_submission
from gateway import clock
from gateway.app_keys import BLOBS, INTAKE, METRICS, RATE_LIMITER, SETTINGS, TICKETS
from gateway.client_address import client_address
from gateway.errors import ApiError
from gateway.json_io import json_response
from gateway.media_types import attachment_kind
from gateway.rate_limits import RateLimit
from gateway.ticket import Attachment, HistoryEvent, Status, Ticket
from gateway.tickets import TicketNotFound
from triage.app_keys import CONVERSATIONS

STATIC = Path(__file__).with_name("static")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
_TRUTHY = {"true", "on", "1", "yes"}


async def index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def track_page(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "track.html")


def _submission_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return uuid.uuid4().hex
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key 须为1至128个可见 ASCII 字符")
    return key


def _normalise(fields: dict) -> dict:
    """Form posts carry strings; the JSON API may carry a real boolean."""
    out = dict(fields)
    if isinstance(out.get("confidential"), str):
        out["confidential"] = out["confidential"].strip().lower() in _TRUTHY
    return out


async def submit_request(request: web.Request) -> web.Response:
    app = request.app
    settings = app[SETTINGS]
    submission_key = _submission_key(request)

    submission: Submission = await read_submission(request, UploadLimits(settings))
    fields = _normalise(submission.fields)
    per_ip = RateLimit(keys.submissions_from(client_address(request)), settings.rate_limit_ip_per_hour, 3600)
    try:
        if fields.get("website"):
            raise ApiError(400, "honeypot_filled", "提交未通过校验，请刷新页面后重试")
        try:
            form = CitizenRequestIn.model_validate(fields)
        except ValidationError as exc:
            raise ApiError(422, "validation_failed", "提交内容有误，请按提示修改", field_errors(exc)) from None
    except ApiError:
        # Rejected submissions count against the address too, so probing is limited as well.
        allowed, retry_after = await app[RATE_LIMITER].hit(per_ip)
        if not allowed:
            raise _rate_limited("提交过于频繁，请稍后再试；紧急情况请拨打12345", retry_after) from None
        raise

    attachments = []
    for upload in submission.uploads:
        digest = await asyncio.to_thread(app[BLOBS].put, upload.data)
        attachments.append(Attachment(
            kind=attachment_kind(upload.mime), sha256=digest, size=len(upload.data),
            mime=upload.mime, filename=upload.filename, blob=f"blob:sha256:{digest}",
        ))
    per_phone = RateLimit(keys.submissions_by(form.phone), settings.section(WebSettings).rate_limit_phone_per_day, 86400)
    result = await app[INTAKE](to_ticket(form, submission_key, attachments), actor="citizen", limits=(per_ip, per_phone))
    if result.limited_by is per_ip:
        raise _rate_limited("提交过于频繁，请稍后再试；紧急情况请拨打12345", result.retry_after)
    if result.limited_by is per_phone:
        raise _rate_limited("该号码今日提交次数已达上限，如有急事请拨打12345", result.retry_after)
    assert result.ticket_id is not None  # only a rate limit leaves it unset, handled above
    app[METRICS].intake.labels(channel="web", outcome="created" if result.created else "duplicate").inc()
    if result.created and form.related_ticket:
        await _link_back(app, form.related_ticket, result.ticket_id)
    return _accepted(request, result.ticket_id, duplicate=not result.created)


async def _link_back(app: web.Application, chat_ticket: str, form_ticket: str) -> None:
    """The chat conversation that handed over to the form points to the filed request. Only chat
    tickets are linked this way; any other id is left alone."""
    try:
        chat = await app[TICKETS].document(chat_ticket)
    except TicketNotFound:
        return
    if chat.source.extra.get("mode") != "chat":
        return

    def link(ticket: Ticket) -> dict:
        if form_ticket not in ticket.links.related:
            ticket.links.related.append(form_ticket)
        if ticket.status == Status.received:  # the request continues in the form's ticket
            ticket.status = Status.closed
        return {"related": form_ticket}

    await app[TICKETS].update(chat_ticket, link, HistoryEvent(at=clock.now(), actor="citizen", event="form_filed"))
    # The chat's next message starts a new request instead of landing on the closed one.
    if session := chat.source.extra.get("session"):
        await app[CONVERSATIONS].close_request("web", session)


def _rate_limited(message: str, retry_after: int) -> ApiError:
    return rate_limited(message, retry_after)


def _accepted(request: web.Request, ticket_id: str, duplicate: bool) -> web.Response:
    accept = request.headers.get("Accept", "")
    if "text/html" in accept and "application/json" not in accept:
        raise web.HTTPSeeOther(f"/track?ticket_id={ticket_id}&new=1")
    body = {
        "ticket_id": ticket_id,
        "status": "received",
        "duplicate": duplicate,
        "message": f"您的诉求已受理，工单号 {ticket_id}，请妥善保存以便查询办理进度",
    }
    return json_response(body, status=200 if duplicate else 201)


async def track(request: web.Request) -> web.Response:
    ticket = await tracked_ticket(request, request.query.get("ticket_id", ""), request.query.get("phone_last4", ""))
    return json_response(await public_view_of(request.app[TICKETS], ticket))


def setup(app: web.Application) -> None:
    app.router.add_get("/", index, name="portal")
    app.router.add_get("/track", track_page, name="track_page")
    app.router.add_post("/api/v1/requests", submit_request, name="submit_request")
    app.router.add_get("/api/v1/track", track, name="track")
