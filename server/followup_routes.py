"""The 回访 callback list on the desk: phone and video tickets open for their 回访 (answered on
the spot or 办结), and an agent recording what the citizen said on the phone. Desk roles."""
from __future__ import annotations

from aiohttp import web

from gateway.app_keys import TICKETS
from gateway.auth import actor, requires
from gateway.errors import ApiError
from gateway.followup_answers import callback_list, record_followup
from gateway.followups import CALLBACK_CHANNELS, FollowUpIn, open_since
from gateway.json_io import json_response, read_model
from gateway.route_tickets import ticket_or_404
from gateway.summaries import summary

DESK = ("agent", "supervisor")


@requires(*DESK)
async def followups(request: web.Request) -> web.Response:
    channel = request.query.get("channel", "phone")
    if channel not in CALLBACK_CHANNELS:
        raise ApiError(422, "validation_failed", "回访回拨列表只有电话和视频渠道",
                       [{"field": "channel", "code": "invalid_channel", "message": "须为 phone 或 video"}])
    rows = []
    for ticket in await callback_list(request.app[TICKETS], channel):
        since = open_since(ticket)
        rows.append({**summary(ticket), "open_since": since.isoformat() if since else None,
                     "reason": "已办结" if ticket.case is not None and ticket.case.status == "closed" else "已当场答复"})
    return json_response({"channel": channel, "items": rows})


@requires(*DESK)
async def record(request: web.Request) -> web.Response:
    body: FollowUpIn = await read_model(request, FollowUpIn, summary="回访内容填写有误")
    ticket = await ticket_or_404(request)
    updated = await record_followup(request.app[TICKETS], ticket.id, body, "phone", actor(request))
    return json_response(updated.public_json())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/agent/followups", followups, name="followups")
    app.router.add_post("/api/v1/agent/tickets/{ticket_id}/followup", record, name="record_followup")
