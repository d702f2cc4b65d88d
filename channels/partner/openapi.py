"""The partner channel's part of the OpenAPI document: the signed API between hotlines (both
directions) and its desk and admin routes."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from channels.partner.desk import PartnerStatusIn, TransferIn
from channels.partner.directory import PartnerEdit, PartnerPut
from channels.partner.envelope import StatusUpdate, TransferEnvelope, TransferReceipt
from gateway.openapi_parts import CSRF, DESK, TICKET_ID, errors, json_body, response

MODELS: tuple[type[BaseModel], ...] = (TransferIn, PartnerStatusIn, PartnerEdit, PartnerPut, TransferEnvelope, StatusUpdate)
RESPONSES: tuple[type[BaseModel], ...] = (TransferReceipt,)

_PARTNER_SIGNED = [
    {"name": "X-Partner-Id", "in": "header", "required": True, "schema": {"type": "string"}, "description": "the sender's id in the partner directory"},
    {"name": "X-Partner-Key-Id", "in": "header", "required": True, "schema": {"type": "string"}},
    {"name": "X-Partner-Timestamp", "in": "header", "required": True, "schema": {"type": "string", "pattern": "^\\d+$"}, "description": "unix seconds, within ±300 s"},
    {"name": "X-Partner-Nonce", "in": "header", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"}, "description": "never repeated"},
    {"name": "X-Partner-Signature", "in": "header", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
     "description": "hex HMAC-SHA256(secret, METHOD + '\\n' + PATH + '\\n' + TIMESTAMP + '\\n' + NONCE + '\\n' + hex sha256(body))"},
]


def paths() -> dict[str, Any]:
    """The partner API (both directions, machine to machine) and its desk and admin routes."""
    signed = {"tags": ["partner"], "parameters": _PARTNER_SIGNED}
    refused = {"401": response("Error", "signature_missing, stale_timestamp, unknown_partner, invalid_signature or replayed_nonce; nothing stored")}
    partner_id = {"name": "partner_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/partners/v1/transfers": {"post": {
            **signed, "summary": "Receive a transfer (京津冀一键互转): the envelope becomes a ticket (channel partner) and pops up for agents",
            "operationId": "partnerReceiveTransfer", "requestBody": json_body("TransferEnvelope"),
            "responses": {"201": response("TransferReceipt", "received"), "200": response("TransferReceipt", "the same transfer id again: the first receipt"),
                          **refused, **errors(413, 422)},
        }},
        "/partners/v1/transfers/{transfer_id}/status": {"post": {
            **signed, "summary": "Status of a transfer we sent (accepted, in_progress, resolved with result), shown on the original ticket",
            "operationId": "partnerReceiveStatus", "parameters": [*_PARTNER_SIGNED, {"name": "transfer_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": json_body("StatusUpdate"),
            "responses": {"200": {"description": "applied (a status never moves backwards)"}, **refused, **errors(404, 413, 422)},
        }},
        "/partners/v1/blobs/{sha256}": {"get": {
            "tags": ["partner"], "summary": "An attachment of a transfer, behind the signed, expiring link in the envelope", "operationId": "partnerBlob",
            "parameters": [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}},
                           *({"name": n, "in": "query", "required": True, "schema": {"type": "string"}} for n in ("kid", "exp", "sig"))],
            "responses": {"200": {"description": "the file"}, "401": response("Error", "invalid_link or link_expired"), **errors(404)},
        }},
        "/api/v1/agent/partners": {"get": {
            "tags": ["partner"], "summary": "Partner hotlines an agent can transfer to", "operationId": "listPartners", **DESK,
            "responses": {"200": {"description": "self and partners {id, name, region, route, personal_fields, case_fields}"}, **errors(401, 403)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/transfer": {"post": {
            "tags": ["partner"], "summary": "One-click transfer to a partner hotline (a live call is put through by AMI at the same time)",
            "operationId": "transferToPartner", **DESK, "parameters": [TICKET_ID, CSRF], "requestBody": json_body("TransferIn"),
            "responses": {"202": {"description": "queued in the outbox: transfer_id, live_call, withheld (requester fields the partner will not get)"},
                          "502": response("Error", "the AMI transfer failed; nothing was sent"), "503": response("Error", "the call is live on an instance without AMI"),
                          **errors(401, 403, 404, 409, 415, 422)},
        }},
        "/api/v1/agent/partner-transfers": {"get": {
            "tags": ["partner"], "summary": "Transfers from partner hotlines that no agent has accepted yet (the pop-ups of a desk that reloads)",
            "operationId": "pendingPartnerTransfers", **DESK, "responses": {"200": {"description": "transfers: partner.transfer_in events"}, **errors(401, 403)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/partner-status": {"post": {
            "tags": ["partner"], "summary": "Report on a transfer we received (受理 / 办理中 / 办结回告) to the hotline that sent it",
            "operationId": "reportPartnerStatus", **DESK, "parameters": [TICKET_ID, CSRF], "requestBody": json_body("PartnerStatusIn"),
            "responses": {"202": {"description": "queued in the outbox"}, **errors(401, 403, 404, 409, 415, 422)},
        }},
        "/api/v1/admin/partners": {"get": {
            "tags": ["admin"], "summary": "The partner directory (17 hotlines), with whether each key is configured", "operationId": "adminPartners", **DESK,
            "responses": {"200": {"description": "directory"}, **errors(401, 403)},
        }},
        "/api/v1/admin/partners/{partner_id}": {"get": {
            "tags": ["admin"], "summary": "One directory entry, as PUT takes it back", "operationId": "adminGetPartner", **DESK,
            "parameters": [partner_id], "responses": {"200": {"description": "the entry, with key_configured"}, **errors(401, 403, 404)},
        }, "put": {
            "tags": ["admin"], "summary": "Create or change a directory entry (audited); what GET returns is accepted back",
            "operationId": "adminPutPartner", **DESK,
            "parameters": [partner_id, CSRF], "requestBody": json_body("PartnerPut"),
            "responses": {"200": {"description": "changed"}, "201": {"description": "created"}, **errors(401, 403, 415, 422)},
        }},
    }
