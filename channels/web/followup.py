"""回访 on the portal: after the chat's on-the-spot answer (authorised by the chat session) and on
/track after 办结 (authorised like /track: ticket id and the phone's last four digits). The
answer itself is the kernel's (gateway/followup_answers.py): once per ticket."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from pydantic import Field

from channels.web.access import chat_ticket, tracked_ticket
from channels.web.progress import public_view_of
from gateway.app_keys import TICKETS
from gateway.followup_answers import record_followup
from gateway.followups import FollowUpIn
from gateway.json_io import json_response, read_model

_SESSION = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class TrackFollowUpIn(FollowUpIn):
    ticket_id: str = Field(max_length=64)
    phone_last4: str = Field(max_length=8)


class ChatFollowUpIn(FollowUpIn):
    ticket_id: str = Field(pattern=r"^[A-Z]{2}-\d{8}-\d{6,9}$")
    session_id: str = Field(pattern=_SESSION.pattern)


def _message(error: Mapping[str, Any]) -> str:
    field = error["loc"][0] if error["loc"] else ""
    return {"resolved": "请选择问题是否已解决", "satisfaction": "请选择满意、基本满意或不满意", "reason": "原因不能超过500字",
            "session_id": "会话编号无效，请刷新页面", "ticket_id": "工单号格式不正确"}.get(str(field), "填写内容有误")


def _answer(body: FollowUpIn) -> FollowUpIn:
    return FollowUpIn(resolved=body.resolved, satisfaction=body.satisfaction, reason=body.reason)


async def track_followup(request: web.Request) -> web.Response:
    body = await read_model(request, TrackFollowUpIn, _message, summary="评价内容有误，请按提示修改")
    ticket = await tracked_ticket(request, body.ticket_id, body.phone_last4)
    updated = await record_followup(request.app[TICKETS], ticket.id, _answer(body), "web-track", "citizen")
    return json_response(await public_view_of(request.app[TICKETS], await request.app[TICKETS].get(updated.id)))


async def chat_followup(request: web.Request) -> web.Response:
    body = await read_model(request, ChatFollowUpIn, _message, summary="评价内容有误，请按提示修改")
    ticket = await chat_ticket(request, body.session_id, body.ticket_id)
    updated = await record_followup(request.app[TICKETS], ticket.id, _answer(body), "web-chat", "citizen")
    return json_response({"ticket_id": updated.id, "followup": updated.followup.model_dump(mode="json", exclude={"by"}) if updated.followup else None,
                          "message": "感谢您的评价！"})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/track/followup", track_followup, name="track_followup")
    app.router.add_post("/api/v1/chat/followup", chat_followup, name="chat_followup")
