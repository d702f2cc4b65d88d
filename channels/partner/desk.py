"""Agent and admin routes of the partner channel: the one-click transfer (with the consent gate
and, for a live call, the AMI transfer), status reports on transfers we received, and the
partner directory for admins."""
from __future__ import annotations

import json
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from channels.partner.directory import CASE_FIELDS, PERSONAL_FIELDS, Partner, PartnerDirectory, PartnerPut, audit_line
from channels.partner.envelope import STATUS_LABELS, withheld_requester_fields
from channels.partner.keys import PARTNERS
from channels.partner.outbound import queue_status, queue_transfer, transfer_id_for
from channels.partner.routes import PENDING_TRANSFERS
from gateway import clock, keys
from gateway.app_keys import CALL_TRANSFER, OUTBOX, REDIS, TICKETS
from gateway.auth import actor, requires
from gateway.call_transfer import TransferFailed, TransferUnavailable
from gateway.errors import ApiError
from gateway.json_io import json_response, read_model
from gateway.live_events import publish_to_desks
from gateway.route_tickets import ticket_or_404
from gateway.sessions import STAFF_SESSION
from gateway.ticket import PARTNER_STATUS_RANK, HistoryEvent, Provenance, Ticket, Transferred

DESK = ("agent", "supervisor")
AUDIT_KEY = keys.P + "partners:audit"


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    partner: str = Field(min_length=2, max_length=32)
    reason: str = Field(min_length=2, max_length=500)
    verbal_consent: bool = Field(False, description="the citizen agreed on the phone to share name and number with the partner")


class PartnerStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    status: Literal["accepted", "in_progress", "resolved"]
    result: str | None = Field(None, max_length=2000)


def _public(partner: Partner) -> dict[str, Any]:
    return {"id": partner.id, "name": partner.name, "region": partner.region, "route": partner.route,
            "personal_fields": [f for f in partner.fields if f in PERSONAL_FIELDS],
            "case_fields": [f for f in partner.fields if f in CASE_FIELDS]}


@requires(*DESK)
async def list_partners(request: web.Request) -> web.Response:
    directory: PartnerDirectory = request.app[PARTNERS]
    return json_response({"self": directory.self_id, "partners": [_public(p) for p in await directory.peers()]})


@requires(*DESK)
async def transfer(request: web.Request) -> web.Response:
    body: TransferIn = await read_model(request, TransferIn)
    directory: PartnerDirectory = request.app[PARTNERS]
    partner = next((p for p in await directory.peers() if p.id == body.partner), None)
    if partner is None:
        raise ApiError(422, "unknown_partner", "请从列表中选择对方热线", [{"field": "partner", "code": "unknown_partner", "message": "不在合作热线名录中或尚未配置密钥"}])
    ticket = await ticket_or_404(request)
    if isinstance(ticket.disposition, Transferred) or any(e.event == "transfer_requested" for e in ticket.history):
        raise ApiError(409, "already_transferred", "该工单已转出，无需重复操作")
    session = request[STAFF_SESSION]
    if body.verbal_consent and not ticket.requester.consent_share_partner:
        await _record_consent(request, ticket.id, partner)
        ticket.requester.consent_share_partner = True
    live_route = await _transfer_live_call(request, ticket, partner)
    event = HistoryEvent(at=clock.now(), actor=actor(request), event="transfer_requested", detail={
        "partner": partner.id, "partner_name": partner.name, "reason": body.reason, "agent_name": session.get("display_name"),
        "live_call": live_route is not None, "route": live_route,
    })
    if not await queue_transfer(request.app[OUTBOX], ticket.id, partner.id, event):
        raise ApiError(409, "already_transferred", "该工单已转出，无需重复操作")
    return json_response({"queued": True, "transfer_id": transfer_id_for(ticket.id, partner.id), "live_call": live_route is not None,
                          "withheld": withheld_requester_fields(ticket.requester, partner)}, status=202)


async def _record_consent(request: web.Request, ticket_id: str, partner: Partner) -> None:
    at = clock.now()

    def consent(ticket: Ticket) -> dict[str, Any]:
        ticket.requester.consent_share_partner = True
        ticket.provenance.append(Provenance(field="requester.consent_share_partner", by=actor(request), at=at,
                                            detail=f"市民口头同意向{partner.name}提供个人信息"))
        return {"partner": partner.id}

    await request.app[TICKETS].update(ticket_id, consent, HistoryEvent(at=at, actor=actor(request), event="consent_recorded"))


async def _transfer_live_call(request: web.Request, ticket: Ticket, partner: Partner) -> str | None:
    """For a call still on the line: put the caller through to the partner's route (AMI
    BlindTransfer of the agent's channel), from whichever instance talks to Asterisk. None when
    there is no live call to move."""
    if ticket.channel != "phone":
        return None
    calls = request.app.get(CALL_TRANSFER)
    if calls is None:
        return None
    try:
        moved = await calls.transfer(ticket.source.channel_id, partner.route)
    except TransferUnavailable:
        raise ApiError(503, "phone_unavailable", "电话系统暂时无法连接，通话未转接、工单未转出，请稍后重试") from None
    except TransferFailed as exc:
        raise ApiError(502, "call_transfer_failed", f"电话转接失败（{exc}），工单未转出，请稍后重试或改为仅转工单") from None
    if not moved:
        return None
    return partner.route


@requires(*DESK)
async def pending_transfers(request: web.Request) -> web.Response:
    """Transfers from partners that no agent has accepted yet, oldest first."""
    raw = await request.app[REDIS].hvals(PENDING_TRANSFERS)
    pending = sorted((json.loads(r) for r in raw), key=lambda e: e["ticket"]["received_at"])
    return json_response({"transfers": pending})


@requires(*DESK)
async def report_status(request: web.Request) -> web.Response:
    body: PartnerStatusIn = await read_model(request, PartnerStatusIn)
    ticket = await ticket_or_404(request)
    if ticket.channel != "partner" or not ticket.source.extra.get("transfer_id"):
        raise ApiError(409, "not_a_transfer", "该工单不是外省市转入的工单")
    if body.status == "resolved" and not body.result:
        raise ApiError(422, "validation_failed", "请填写办理结果", [{"field": "result", "code": "missing", "message": "办结回告须填写办理结果"}])
    reported = [e.detail.get("status") for e in ticket.history if e.event == "partner_status_set"]
    current = reported[-1] if reported else "received"
    if PARTNER_STATUS_RANK[body.status] <= PARTNER_STATUS_RANK[str(current)]:
        raise ApiError(409, "status_not_forward", f"已回告“{STATUS_LABELS[str(current)]}”，不能重复或倒退")
    event = HistoryEvent(at=clock.now(), actor=actor(request), event="partner_status_set",
                         detail={"status": body.status, "result": body.result, "origin": ticket.source.extra.get("origin")})
    await queue_status(request.app[OUTBOX], ticket.id, body.status, event)
    if await request.app[REDIS].hdel(PENDING_TRANSFERS, ticket.id):
        claimed = {"type": "partner.transfer_claimed", "ticket_id": ticket.id, "by": request[STAFF_SESSION]["user"],
                   "by_name": request[STAFF_SESSION].get("display_name")}
        await publish_to_desks(request.app[REDIS], claimed)
    return json_response({"queued": True, "status": body.status}, status=202)


def _admin_view(directory: PartnerDirectory, partner: Partner) -> dict[str, Any]:
    """An entry as admins read it; PUT takes the same body back (PartnerPut)."""
    return {**partner.model_dump(), "key_configured": partner.key_id in directory.secrets}


@requires("admin")
async def admin_partners(request: web.Request) -> web.Response:
    directory: PartnerDirectory = request.app[PARTNERS]
    partners = [_admin_view(directory, p) for p in await directory.all()]
    return json_response({"self": directory.self_id, "partners": partners})


@requires("admin")
async def admin_get_partner(request: web.Request) -> web.Response:
    directory: PartnerDirectory = request.app[PARTNERS]
    partner = await directory.get(request.match_info["partner_id"])
    if partner is None:
        raise ApiError(404, "partner_not_found", "合作热线名录中没有该热线")
    return json_response(_admin_view(directory, partner))


@requires("admin")
async def admin_put_partner(request: web.Request) -> web.Response:
    edit: PartnerPut = await read_model(request, PartnerPut)
    partner_id = request.match_info["partner_id"]
    if edit.id is not None and edit.id != partner_id:
        raise ApiError(422, "validation_failed", "热线编号与地址中的不一致",
                       [{"field": "id", "code": "id_mismatch", "message": f"地址中的热线编号是 {partner_id}，请求中的是 {edit.id}"}])
    try:
        partner = Partner(id=partner_id, **edit.editable())
    except ValueError:
        raise ApiError(422, "validation_failed", "热线编号格式不正确", [{"field": "id", "code": "invalid", "message": "小写字母、数字和连字符"}]) from None
    directory: PartnerDirectory = request.app[PARTNERS]
    previous = await directory.put(partner)
    await request.app[REDIS].rpush(AUDIT_KEY, audit_line(actor(request), previous, partner))
    return json_response(_admin_view(directory, partner), status=200 if previous else 201)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/agent/partners", list_partners, name="list_partners")
    r.add_post("/api/v1/agent/tickets/{ticket_id}/transfer", transfer, name="transfer_to_partner")
    r.add_post("/api/v1/agent/tickets/{ticket_id}/partner-status", report_status, name="report_partner_status")
    r.add_get("/api/v1/agent/partner-transfers", pending_transfers, name="pending_partner_transfers")
    r.add_get("/api/v1/admin/partners", admin_partners, name="admin_partners")
    r.add_get("/api/v1/admin/partners/{partner_id}", admin_get_partner, name="admin_get_partner")
    r.add_put("/api/v1/admin/partners/{partner_id}", admin_put_partner, name="admin_put_partner")
