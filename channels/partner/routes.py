"""The partner API (`/partners/v1`), spoken by every Jing-Jin-Ji hotline in both directions:

* `POST /partners/v1/transfers`: a transfer envelope in, a receipt out (idempotent on the
  sender's transfer id); the transfer becomes a ticket (channel `partner`) and pops up on the
  agents' desks;
* `POST /partners/v1/transfers/{transfer_id}/status`: the receiver of one of our transfers
  reports accepted / in progress / resolved; it lands on our original ticket;
* `GET /partners/v1/blobs/{sha256}`: an attachment behind a signed, expiring link.

Every request is authenticated (channels/partner/signing.py) before its body is parsed; a
refused request stores nothing."""
from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from channels.partner import adapter
from channels.partner.attachments import fetch_attachments
from channels.partner.directory import Partner, PartnerDirectory
from channels.partner.envelope import STATUS_LABELS, StatusUpdate, TransferEnvelope, TransferReceipt
from channels.partner.keys import PARTNERS
from channels.partner.settings import PartnerSettings
from channels.partner.signing import SignatureError, check, check_link, read_headers, remember_nonce
from gateway import clock, keys
from gateway.app_keys import BLOBS, INTAKE, REDIS, SETTINGS, TICKETS
from gateway.bodies import TooLarge, read_limited
from gateway.errors import ApiError
from gateway.json_io import json_response
from gateway.live_events import desk_event
from gateway.media_types import sniff
from gateway.redis_values import text
from gateway.summaries import summary
from gateway.ticket import PARTNER_STATUS_RANK, HistoryEvent, Ticket, Transferred
from gateway.tickets import TicketNotFound

log = logging.getLogger(__name__)

PENDING_TRANSFERS = keys.P + "partner:pending"  # ticket id -> its pop-up, until an agent accepts it


def _refused(exc: SignatureError) -> ApiError:
    return ApiError(401, exc.code, exc.message)


async def authenticate(request: web.Request) -> tuple[Partner, bytes]:
    """The sending partner and the request body, or 401/413 with nothing stored."""
    directory: PartnerDirectory = request.app[PARTNERS]
    try:
        signed = read_headers(request.headers)
    except SignatureError as exc:
        raise _refused(exc) from None
    partner = await directory.get(signed.sender)
    secret = directory.secret(partner) if partner is not None else None
    if partner is None or not partner.enabled or partner.key_id != signed.key_id or secret is None:
        raise ApiError(401, "unknown_partner", "未知的合作热线或密钥")
    try:
        body = await read_limited(request.content, request.content_length, request.app[SETTINGS].section(PartnerSettings).partner_max_body_bytes)
    except TooLarge:
        raise ApiError(413, "payload_too_large", "转办内容过大") from None
    try:
        check(secret, request.method, request.path, signed, body)
        await remember_nonce(request.app[REDIS], signed)
    except SignatureError as exc:
        log.warning("partner request refused", extra={"partner": partner.id, "reason": exc.code})
        raise _refused(exc) from None
    return partner, body


def _parse(model: Any, body: bytes) -> Any:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        fields = [{"field": ".".join(map(str, e["loc"])) or "body", "code": e["type"], "message": "内容格式不正确"} for e in exc.errors()]
        raise ApiError(422, "validation_failed", "转办内容格式有误", fields) from None


async def receive_transfer(request: web.Request) -> web.Response:
    partner, body = await authenticate(request)
    envelope: TransferEnvelope = _parse(TransferEnvelope, body)
    if envelope.origin != partner.id:
        raise ApiError(422, "origin_mismatch", "转办来源与签名方不一致")
    channel_id = f"{partner.id}:{envelope.transfer_id}"
    known = await _existing(request, channel_id)
    if known is not None:
        return _receipt(envelope, known, duplicate=True)
    app = request.app
    attachments, notes = await fetch_attachments(envelope.attachments, partner, app[BLOBS], app[SETTINGS].attachment_max_bytes)
    ticket = adapter.to_ticket(envelope, partner, clock.now(), attachments, notes)
    result = await app[INTAKE](ticket, actor=f"partner:{partner.id}")
    assert result.ticket_id is not None  # no rate limits on partner intake
    stored = await app[TICKETS].document(result.ticket_id)
    if result.created:
        await _pop_up(request, stored, partner, envelope)
    log.info("transfer received", extra={"partner": partner.id, "transfer": envelope.transfer_id, "ticket": result.ticket_id,
                                         "duplicate": not result.created})
    return _receipt(envelope, stored, duplicate=not result.created)


async def _existing(request: web.Request, channel_id: str) -> Ticket | None:
    ticket_id = await request.app[REDIS].get(keys.idempotency("partner", channel_id))
    if ticket_id is None:
        return None
    return await request.app[TICKETS].document(text(ticket_id))


def _receipt(envelope: TransferEnvelope, ticket: Ticket, duplicate: bool) -> web.Response:
    receipt = TransferReceipt(transfer_id=envelope.transfer_id, ticket_id=ticket.id, received_at=ticket.received_at, duplicate=duplicate)
    return json_response(receipt.model_dump(mode="json"), status=200 if duplicate else 201)


async def _pop_up(request: web.Request, ticket: Ticket, partner: Partner, envelope: TransferEnvelope) -> None:
    """Every agent desk hears of an inbound transfer and keeps it on screen (a desk that
    reloads gets the waiting ones again) until an agent accepts it."""
    event = desk_event({"type": "partner.transfer_in", "ticket": summary(ticket), "origin": {"id": partner.id, "name": partner.name},
                        "reason": envelope.reason, "live_call": bool(envelope.call and envelope.call.live),
                        "origin_agent": envelope.agent.display_name or envelope.agent.username})
    async with request.app[REDIS].pipeline(transaction=True) as pipe:
        pipe.hset(PENDING_TRANSFERS, ticket.id, event)
        pipe.publish(keys.events_channel(request.app[REDIS]), event)
        await pipe.execute()


async def receive_status(request: web.Request) -> web.Response:
    partner, body = await authenticate(request)
    update: StatusUpdate = _parse(StatusUpdate, body)
    ticket_id, _, partner_id = request.match_info["transfer_id"].rpartition(".")
    if partner_id != partner.id:
        raise ApiError(404, "transfer_not_found", "未找到该转办记录")
    try:
        current = await request.app[TICKETS].get(ticket_id)
    except TicketNotFound:
        raise ApiError(404, "transfer_not_found", "未找到该转办记录") from None
    if not any(e.event == "transfer_requested" and e.detail.get("partner") == partner.id for e in current.history):
        raise ApiError(404, "transfer_not_found", "未找到该转办记录")
    if update.status == "resolved" and not update.result:
        raise ApiError(422, "result_required", "办结回告须包含办理结果")
    transfer_id = request.match_info["transfer_id"]

    def apply(ticket: Ticket) -> dict[str, Any]:
        # The receipt may still be on its way back to our outbox: the callback carries it too.
        if not isinstance(ticket.disposition, Transferred) or ticket.disposition.partner != partner.id:
            ticket.disposition = Transferred(at=update.at, partner=partner.id, receipt=update.ticket_id, transfer_id=transfer_id)
            ticket.status = "transferred"  # type: ignore[assignment]
        disposition = ticket.disposition
        if PARTNER_STATUS_RANK[update.status] >= PARTNER_STATUS_RANK[disposition.partner_status]:
            disposition.partner_status = update.status
            disposition.status_at = update.at
            disposition.result = update.result or disposition.result
        return {"partner": partner.id, "status": update.status, "label": STATUS_LABELS[update.status], "result": update.result,
                "partner_ticket_id": update.ticket_id, "partner_agent": update.agent}

    ticket = await request.app[TICKETS].update(ticket_id, apply, HistoryEvent(at=clock.now(), actor=f"partner:{partner.id}", event="partner_status"))
    return json_response({"ok": True, "partner_status": ticket.disposition.partner_status})  # type: ignore[union-attr]


async def partner_blob(request: web.Request) -> web.Response:
    """An attachment for a partner, behind the link we signed for it."""
    directory: PartnerDirectory = request.app[PARTNERS]
    sha, query = request.match_info["sha256"], request.query
    key_id = query.get("kid", "")
    secret = directory.secrets.get(key_id)
    if secret is None:
        raise ApiError(401, "invalid_link", "附件链接无效")
    try:
        check_link(secret, sha, query.get("exp", ""), key_id, query.get("sig", ""))
    except SignatureError as exc:
        raise _refused(exc) from None
    data = request.app[BLOBS].get(sha)
    if data is None:
        raise ApiError(404, "blob_not_found", "附件不存在")
    return web.Response(body=data, content_type=sniff(data[:32]) or "application/octet-stream",
                        headers={"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_post("/partners/v1/transfers", receive_transfer, name="partner_receive_transfer")
    r.add_post("/partners/v1/transfers/{transfer_id}/status", receive_status, name="partner_receive_status")
    r.add_get("/partners/v1/blobs/{sha256}", partner_blob, name="partner_blob")
