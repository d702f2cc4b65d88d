"""The OpenAPI 3.1 document of every HTTP API of the product, including the outbound call to
the core case system (as a webhook, since the gateway is the caller there).

`tests/server/test_openapi.py` checks that every registered API route appears here."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from channels.partner.desk import PartnerStatusIn, TransferIn
from channels.partner.directory import PartnerEdit, PartnerPut
from channels.partner.envelope import StatusUpdate, TransferEnvelope, TransferReceipt
from channels.phone.routes import KbAnswerIn
from channels.web.chat import ChatIn
from channels.web.forms import CitizenRequestIn
from gateway.auth import PasswordChangeIn
from gateway.channel import OpenApiPart
from gateway.ticket import Ticket
from knowledge_base.models import EntryContent, EntryVersion
from knowledge_base.routes import NewEntryIn, PublishIn, RejectIn, RollbackIn, SaveIn, SynonymsIn, TryIn
from server.desk_routes import BulkRedriveIn, CatalogueIn, ForwardIn, LoginIn, NoteIn, TicketPatch
from server.registry import channels

REF = "#/components/schemas/{model}"


class Error(BaseModel):
    error: str = Field(description="machine-readable code, e.g. invalid_phone")
    message: str = Field(description="说明（简体中文）")
    fields: list[dict[str, str]] | None = Field(None, description="per-field errors: field, code, message")


class RequestAccepted(BaseModel):
    ticket_id: str
    status: str
    duplicate: bool
    message: str


class TicketSummary(BaseModel):
    id: str
    channel: str
    kind: str | None
    kind_label: str
    status: str
    status_label: str
    received_at: str
    due_at: str
    district: str | None
    summary: str
    phone_masked: str | None
    confidential: bool


class TicketList(BaseModel):
    tickets: list[TicketSummary]


class DeadLetter(BaseModel):
    entry_id: str = Field(description="dead-letter stream id, `<ms>-<seq>`")
    ticket_id: str
    hop: str = Field(description="`case`, `partner:<id>`, `wx-reply:...`")
    reason: str | None
    status_code: int | None
    at: str | None
    attempts: int


class DeadLetterList(BaseModel):
    items: list[DeadLetter] = Field(description="newest first")
    next: str | None = Field(description="pass as `before` for the next (older) page; null = no more")
    total: int = Field(description="all dead letters, unfiltered")


class BulkRedriveResult(BaseModel):
    redriven: int = Field(description="put back on the outbox by this request")
    already_gone: int = Field(description="re-driven by someone else meanwhile, or no such dead letter")
    message: str


class TrackView(BaseModel):
    ticket_id: str
    status: str
    status_label: str
    kind: str | None
    kind_label: str
    received_at: str
    due_at: str
    district: str | None
    timeline: list[dict[str, str]]


class CaseReceipt(BaseModel):
    model_config = ConfigDict(extra="allow")
    case_id: str = Field(description="the case system's id for the ticket; the same for a repeated Idempotency-Key")


def _resp(model: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "请求格式不正确", 401: "未登录", 403: "无权限或 CSRF 校验失败", 404: "不存在", 409: "状态冲突",
            413: "内容过大", 415: "内容类型不支持", 422: "字段校验失败", 429: "请求过于频繁"}
    return {str(c): _resp("Error", text[c]) for c in codes}


def _json_body(model: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}}}


_SESSION: list[dict[str, list[str]]] = [{"session": []}]
_TICKET_ID = {"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": r"^[A-Z]{2}-\d{8}-\d{6,}$"}}


def _kb_paths() -> dict[str, Any]:
    kb = {"tags": ["knowledge base"], "security": _SESSION}
    entry = {"name": "entry_id", "in": "path", "required": True, "schema": {"type": "string"}}
    csrf = {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}

    def op(summary: str, op_id: str, params: list[dict[str, Any]] | None = None, body: str | None = None,
           codes: tuple[int, ...] = (401, 403, 404), ok: str = "200") -> dict[str, Any]:
        out: dict[str, Any] = {**kb, "summary": summary, "operationId": op_id, "parameters": params or [],
                               "responses": {ok: {"description": "OK"}, **_errors(*codes)}}
        if body:
            out["requestBody"] = _json_body(body)
        return out

    return {
        "/api/v1/kb/entries": {
            "get": op("List entries (q, status, category, expiring=1, review_overdue=1)", "kbList", [
                {"name": n, "in": "query", "schema": {"type": "string"}} for n in ("q", "status", "category", "expiring", "review_overdue", "expiring_days")
            ], codes=(401, 403)),
            "post": op("Create an entry (draft, version 1)", "kbCreate", [csrf], "NewEntryIn", (401, 403, 409, 415, 422), "201"),
        },
        "/api/v1/kb/entries/{entry_id}": {
            "get": op("An entry with all its versions", "kbGet", [entry]),
            "put": op("Save a new version (draft)", "kbSave", [entry, csrf], "SaveIn", (401, 403, 404, 409, 415, 422)),
        },
        "/api/v1/kb/entries/{entry_id}/submit": {"post": op("Submit the latest version for review", "kbSubmit", [entry, csrf], codes=(401, 403, 404, 409))},
        "/api/v1/kb/entries/{entry_id}/publish": {"post": op("Publish (reviewer; not the version's author)", "kbPublish", [entry, csrf], None, (401, 403, 404, 409))},
        "/api/v1/kb/entries/{entry_id}/reject": {"post": op("Send back to draft with a reason", "kbReject", [entry, csrf], "RejectIn", (401, 403, 404, 409, 422))},
        "/api/v1/kb/entries/{entry_id}/archive": {"post": op("Archive (never served again)", "kbArchive", [entry, csrf], codes=(401, 403, 404, 409))},
        "/api/v1/kb/entries/{entry_id}/rollback": {"post": op("Republish an earlier version as a new version (goes to review)", "kbRollback", [entry, csrf], "RollbackIn", (401, 403, 404, 422))},
        "/api/v1/kb/entries/{entry_id}/diff": {"get": op("Side-by-side diff of two versions", "kbDiff", [entry,
            {"name": "from", "in": "query", "required": True, "schema": {"type": "integer"}},
            {"name": "to", "in": "query", "required": True, "schema": {"type": "integer"}}], codes=(401, 403, 404, 422))},
        "/api/v1/kb/entries/{entry_id}/recall": {"get": op("Tickets answered with superseded versions (format=csv to export)", "kbRecall", [entry,
            {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}}])},
        "/api/v1/kb/review-queue": {"get": op("Entries waiting for review", "kbReviewQueue", codes=(401, 403))},
        "/api/v1/kb/try": {"post": op("How would the bot answer this text?", "kbTry", [csrf], "TryIn", (401, 403, 415, 422))},
        "/api/v1/kb/synonyms": {
            "get": op("The synonym table", "kbSynonyms", codes=(401, 403)),
            "put": op("Replace the synonym table", "kbPutSynonyms", [csrf], "SynonymsIn", (401, 403, 415, 422)),
        },
        "/api/v1/kb/audit": {"get": op("Audit log (who, when, what)", "kbAudit", [{"name": "entry", "in": "query", "schema": {"type": "string"}}], codes=(401, 403))},
        "/api/v1/kb/export": {"get": op("Export entries as YAML or CSV", "kbExport", [{"name": "format", "in": "query", "schema": {"type": "string", "enum": ["yaml", "csv"]}}], codes=(401, 403, 422))},
        "/api/v1/kb/import": {"post": {**op("Import YAML or CSV (validated whole, applied atomically); returns a job", "kbImport",
            [{"name": "format", "in": "query", "required": True, "schema": {"type": "string", "enum": ["yaml", "csv"]}}, csrf], None, (401, 403, 413, 422), "202"),
            "requestBody": {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}}}}},
        "/api/v1/kb/import/{job}": {"get": op("Import progress and per-row errors", "kbImportStatus", [{"name": "job", "in": "path", "required": True, "schema": {"type": "string"}}])},
    }


_WX_ACCOUNT = {"name": "account", "in": "path", "required": True, "schema": {"type": "string"}, "description": "configured account name"}
_WX_SIGNED = [{"name": n, "in": "query", "required": True, "schema": {"type": "string"}} for n in ("signature", "timestamp", "nonce")]


_PARTNER_SIGNED = [
    {"name": "X-Partner-Id", "in": "header", "required": True, "schema": {"type": "string"}, "description": "the sender's id in the partner directory"},
    {"name": "X-Partner-Key-Id", "in": "header", "required": True, "schema": {"type": "string"}},
    {"name": "X-Partner-Timestamp", "in": "header", "required": True, "schema": {"type": "string", "pattern": "^\\d+$"}, "description": "unix seconds, within ±300 s"},
    {"name": "X-Partner-Nonce", "in": "header", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"}, "description": "never repeated"},
    {"name": "X-Partner-Signature", "in": "header", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
     "description": "hex HMAC-SHA256(secret, METHOD + '\\n' + PATH + '\\n' + TIMESTAMP + '\\n' + NONCE + '\\n' + hex sha256(body))"},
]


def _partner_paths(desk: dict[str, Any], csrf: dict[str, Any]) -> dict[str, Any]:
    """The partner API (both directions, machine to machine) and its desk and admin routes."""
    signed = {"tags": ["partner"], "parameters": _PARTNER_SIGNED}
    refused = {"401": _resp("Error", "signature_missing, stale_timestamp, unknown_partner, invalid_signature or replayed_nonce; nothing stored")}
    partner_id = {"name": "partner_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/partners/v1/transfers": {"post": {
            **signed, "summary": "Receive a transfer (京津冀一键互转): the envelope becomes a ticket (channel partner) and pops up for agents",
            "operationId": "partnerReceiveTransfer", "requestBody": _json_body("TransferEnvelope"),
            "responses": {"201": _resp("TransferReceipt", "received"), "200": _resp("TransferReceipt", "the same transfer id again: the first receipt"),
                          **refused, **_errors(413, 422)},
        }},
        "/partners/v1/transfers/{transfer_id}/status": {"post": {
            **signed, "summary": "Status of a transfer we sent (accepted, in_progress, resolved with result), shown on the original ticket",
            "operationId": "partnerReceiveStatus", "parameters": [*_PARTNER_SIGNED, {"name": "transfer_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": _json_body("StatusUpdate"),
            "responses": {"200": {"description": "applied (a status never moves backwards)"}, **refused, **_errors(404, 413, 422)},
        }},
        "/partners/v1/blobs/{sha256}": {"get": {
            "tags": ["partner"], "summary": "An attachment of a transfer, behind the signed, expiring link in the envelope", "operationId": "partnerBlob",
            "parameters": [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}},
                           *({"name": n, "in": "query", "required": True, "schema": {"type": "string"}} for n in ("kid", "exp", "sig"))],
            "responses": {"200": {"description": "the file"}, "401": _resp("Error", "invalid_link or link_expired"), **_errors(404)},
        }},
        "/api/v1/agent/partners": {"get": {
            "tags": ["partner"], "summary": "Partner hotlines an agent can transfer to", "operationId": "listPartners", **desk,
            "responses": {"200": {"description": "self and partners {id, name, region, route, personal_fields, case_fields}"}, **_errors(401, 403)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/transfer": {"post": {
            "tags": ["partner"], "summary": "One-click transfer to a partner hotline (a live call is put through by AMI at the same time)",
            "operationId": "transferToPartner", **desk, "parameters": [_TICKET_ID, csrf], "requestBody": _json_body("TransferIn"),
            "responses": {"202": {"description": "queued in the outbox: transfer_id, live_call, withheld (requester fields the partner will not get)"},
                          "502": _resp("Error", "the AMI transfer failed; nothing was sent"), "503": _resp("Error", "the call is live on an instance without AMI"),
                          **_errors(401, 403, 404, 409, 415, 422)},
        }},
        "/api/v1/agent/partner-transfers": {"get": {
            "tags": ["partner"], "summary": "Transfers from partner hotlines that no agent has accepted yet (the pop-ups of a desk that reloads)",
            "operationId": "pendingPartnerTransfers", **desk, "responses": {"200": {"description": "transfers: partner.transfer_in events"}, **_errors(401, 403)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/partner-status": {"post": {
            "tags": ["partner"], "summary": "Report on a transfer we received (受理 / 办理中 / 办结回告) to the hotline that sent it",
            "operationId": "reportPartnerStatus", **desk, "parameters": [_TICKET_ID, csrf], "requestBody": _json_body("PartnerStatusIn"),
            "responses": {"202": {"description": "queued in the outbox"}, **_errors(401, 403, 404, 409, 415, 422)},
        }},
        "/api/v1/admin/partners": {"get": {
            "tags": ["admin"], "summary": "The partner directory (17 hotlines), with whether each key is configured", "operationId": "adminPartners", **desk,
            "responses": {"200": {"description": "directory"}, **_errors(401, 403)},
        }},
        "/api/v1/admin/partners/{partner_id}": {"get": {
            "tags": ["admin"], "summary": "One directory entry, as PUT takes it back", "operationId": "adminGetPartner", **desk,
            "parameters": [partner_id], "responses": {"200": {"description": "the entry, with key_configured"}, **_errors(401, 403, 404)},
        }, "put": {
            "tags": ["admin"], "summary": "Create or change a directory entry (audited); what GET returns is accepted back",
            "operationId": "adminPutPartner", **desk,
            "parameters": [partner_id, csrf], "requestBody": _json_body("PartnerPut"),
            "responses": {"200": {"description": "changed"}, "201": {"description": "created"}, **_errors(401, 403, 415, 422)},
        }},
    }


def _channel_parts() -> list[OpenApiPart]:
    return [channel.openapi() for channel in channels() if channel.openapi is not None]


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    inputs: list[type[BaseModel]] = [
        CitizenRequestIn, LoginIn, PasswordChangeIn, NoteIn, TicketPatch, ForwardIn, KbAnswerIn, ChatIn, EntryContent,
        NewEntryIn, SaveIn, PublishIn, RejectIn, RollbackIn, TryIn, SynonymsIn, TransferIn, PartnerStatusIn,
        PartnerEdit, PartnerPut, TransferEnvelope, StatusUpdate, BulkRedriveIn, CatalogueIn, *(m for part in _channel_parts() for m in part.models)]
    outputs: list[type[BaseModel]] = [EntryVersion, Ticket, Error, RequestAccepted, TicketSummary, TicketList, DeadLetterList,
                                      BulkRedriveResult, TrackView, CaseReceipt, TransferReceipt]
    modes: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = (
        [(m, "validation") for m in inputs] + [(m, "serialization") for m in outputs])
    _, defs = models_json_schema(
        modes,
        ref_template=REF,
    )
    schemas = defs["$defs"]
    multipart = {
        "type": "object",
        "required": ["description", "phone"],
        "properties": {
            **{k: v for k, v in schemas["CitizenRequestIn"]["properties"].items() if k != "attachments"},
            "confidential": {"type": "string", "enum": ["true", "on", "1", "false", ""]},
            "attachments": {"type": "array", "maxItems": 5, "items": {"type": "string", "format": "binary"},
                            "description": "images (jpeg/png/gif/webp) and videos (mp4/quicktime/webm), type sniffed from content; ≤20 MB each, ≤50 MB total"},
        },
    }
    desk = {"security": _SESSION}
    csrf = {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {
        "/api/v1/requests": {"post": {
            "tags": ["citizen"], "summary": "Submit a citizen request (web channel)", "operationId": "submitRequest",
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 128, "pattern": r"^[\x21-\x7e]+$"}}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"$ref": REF.format(model="CitizenRequestIn")}},
                "multipart/form-data": {"schema": multipart},
            }},
            "responses": {"201": _resp("RequestAccepted", "ticket created"), "200": _resp("RequestAccepted", "same Idempotency-Key: the existing ticket"),
                          "303": {"description": "plain HTML form post: redirect to the tracking page"},
                          **_errors(400, 413, 415, 422, 429)},
        }},
        "/api/v1/track": {"get": {
            "tags": ["citizen"], "summary": "Public status of a ticket", "operationId": "trackTicket",
            "parameters": [
                {"name": "ticket_id", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "phone_last4", "in": "query", "required": True, "schema": {"type": "string", "pattern": r"^\d{4}$"}},
            ],
            "responses": {"200": _resp("TrackView"), **_errors(404, 422, 429)},
        }},
        "/api/v1/auth/login": {"post": {
            "tags": ["desk"], "summary": "Log in to the agent desktop", "operationId": "login",
            "requestBody": _json_body("LoginIn"),
            "responses": {"200": {"description": "logged in; sets the hl_session cookie. `user.must_change_password`: every other "
                                                  "staff API answers 403 `password_change_required` until POST /api/v1/auth/password"},
                          **_errors(401, 415, 422, 429)},
            "description": "Failures only are counted: 10 per user name (any address) or 30 per client address (any user name) "
                           "within 15 minutes lock that name or address for 15 minutes: 429 `login_locked` with Retry-After, "
                           "checked before the password.",
        }},
        "/api/v1/auth/password": {"post": {
            "tags": ["desk"], "summary": "Change the own password (also the forced change at first login)", "operationId": "changePassword",
            **desk, "parameters": [csrf], "requestBody": _json_body("PasswordChangeIn"),
            "description": "Ends every session of the user and answers with a fresh session cookie and CSRF token. 422 with the "
                           "field: `current_password_wrong` (counts as a failed login), `password_unchanged`, `password_too_short`, "
                           "`password_too_long`, `password_too_simple`, `password_too_common`, `password_contains_username`.",
            "responses": {"200": {"description": "`{user, csrf_token}`; sets a new hl_session cookie"}, **_errors(401, 403, 415, 422, 429)},
        }},
        "/api/v1/auth/logout": {"post": {"tags": ["desk"], "summary": "Log out", "operationId": "logout", **desk,
                                         "parameters": [csrf], "responses": {"200": {"description": "logged out"}, **_errors(401, 403)}}},
        "/api/v1/auth/me": {"get": {"tags": ["desk"], "summary": "Current user and CSRF token", "operationId": "me", **desk,
                                    "responses": {"200": {"description": "the user"}, **_errors(401)}}},
        "/api/v1/agent/desk-panels": {"get": {
            "tags": ["desk"], "summary": "The channels' panels of the agent desk: {panels: [{channel, script, styles}]}",
            "operationId": "deskPanels", **desk, "responses": {"200": {"description": "the panels"}, **_errors(401, 403)},
        }},
        "/api/v1/agent/tickets": {"get": {
            "tags": ["desk"], "summary": "Recent tickets, newest first", "operationId": "listTickets", **desk,
            "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                           {"name": "before", "in": "query", "schema": {"type": "integer"}, "description": "epoch ms"}],
            "responses": {"200": _resp("TicketList"), **_errors(401, 403, 422)},
        }},
        "/api/v1/agent/tickets/{ticket_id}": {
            "get": {"tags": ["desk"], "summary": "A ticket with history and delivery ledger", "operationId": "getTicket", **desk,
                    "parameters": [_TICKET_ID], "responses": {"200": _resp("Ticket"), **_errors(401, 403, 404)}},
            "patch": {"tags": ["desk"], "summary": "Correct kind, location and callback phone; confirm or correct triage's topic and handling unit "
                                                     "(`dispatch`); corrections of machine-filled values are kept as training data",
                      "operationId": "patchTicket", **desk,
                      "parameters": [_TICKET_ID, csrf], "requestBody": _json_body("TicketPatch"),
                      "responses": {"200": _resp("Ticket"), **_errors(401, 403, 404, 415, 422)}},
        },
        "/api/v1/agent/tickets/{ticket_id}/notes": {"post": {
            "tags": ["desk"], "summary": "Add an agent note", "operationId": "addNote", **desk,
            "parameters": [_TICKET_ID, csrf], "requestBody": _json_body("NoteIn"),
            "responses": {"200": _resp("Ticket"), **_errors(401, 403, 404, 415, 422)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/forward": {"post": {
            "tags": ["desk"], "summary": "Forward to the core case system", "operationId": "forwardTicket", **desk,
            "parameters": [_TICKET_ID, csrf], "requestBody": {**_json_body("ForwardIn"), "required": False},
            "responses": {"202": {"description": "queued in the outbox"}, **_errors(401, 403, 404, 409)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/kb-answers": {"post": {
            "tags": ["phone"], "summary": "Insert a knowledge-base answer into the ticket (records entry and version)", "operationId": "insertKbAnswer", **desk,
            "parameters": [_TICKET_ID, csrf], "requestBody": _json_body("KbAnswerIn"),
            "responses": {"200": _resp("Ticket"), **_errors(401, 403, 404, 415, 422)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/prefill/{field}/confirm": {"post": {
            "tags": ["phone"], "summary": "Confirm a field pre-filled from the call transcript", "operationId": "confirmPrefill", **desk,
            "parameters": [_TICKET_ID, {"name": "field", "in": "path", "required": True,
                                        "schema": {"type": "string", "enum": ["kind", "location", "callback_phone"]}}, csrf],
            "responses": {"200": _resp("Ticket"), **_errors(401, 403, 404, 409)},
        }},
        "/wechat/{account}": {
            "get": {"tags": ["wechat"], "summary": "WeChat server verification: echoes `echostr` when `signature` matches", "operationId": "wechatVerify",
                    "parameters": [_WX_ACCOUNT, *_WX_SIGNED, {"name": "echostr", "in": "query", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "echostr, as text/plain"}, **_errors(403, 404)}},
            "post": {"tags": ["wechat"], "summary": "WeChat pushes (messages and events) in plaintext, compatible or safe (AES) mode; "
                                                    "answers a passive reply (encrypted when the push was) or `success`",
                     "operationId": "wechatReceive",
                     "parameters": [_WX_ACCOUNT, *_WX_SIGNED, {"name": "openid", "in": "query", "schema": {"type": "string"}},
                                    {"name": "encrypt_type", "in": "query", "schema": {"type": "string", "enum": ["aes", "raw"]}},
                                    {"name": "msg_signature", "in": "query", "schema": {"type": "string"}}],
                     "requestBody": {"required": True, "content": {"text/xml": {"schema": {"type": "string"}}}},
                     "responses": {"200": {"description": "passive reply XML, or the literal `success`"}, **_errors(400, 403, 404, 413)}},
        },
        "/api/v1/agent/calls": {"get": {
            "tags": ["phone"], "summary": "Live calls of this agent (all calls for supervisors), with caller history, suggestions and pre-filled fields",
            "operationId": "liveCalls", **desk,
            "responses": {"200": {"description": "live calls and the AMI connection state"}, **_errors(401, 403)},
        }},
        "/api/v1/agent/blobs/{sha256}": {"get": {
            "tags": ["desk"], "summary": "An attachment by content hash", "operationId": "getBlob", **desk,
            "parameters": [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}],
            "responses": {"200": {"description": "the file"}, **_errors(401, 403, 404)},
        }},
        "/api/v1/agent/ws": {"get": {
            "tags": ["desk"], "summary": "WebSocket of live events: ticket.created, ticket.updated, and for the agents of a call call.ringing, call.connected, call.partial, call.final, call.lag, call.suggestions, call.prefill, call.transferred, call.ended", "operationId": "deskSocket", **desk,
            "responses": {"101": {"description": "switching protocols"}, **_errors(401, 403)},
        }},
        "/api/v1/supervisor/dead-letters": {"get": {
            "tags": ["supervisor"], "summary": "Deliveries that failed for good, newest first, a page at a time", "operationId": "deadLetters", **desk,
            "parameters": [
                {"name": "before", "in": "query", "schema": {"type": "string", "pattern": r"^\d{1,20}-\d{1,20}$"},
                 "description": "exclusive cursor: the `next` of the previous page"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
                {"name": "hop", "in": "query", "schema": {"type": "string", "maxLength": 64},
                 "description": "only this hop (`partner:tj`) or hop family (`case`, `partner`, `wx-reply`); a filtered page may be short, follow `next`"},
            ],
            "responses": {"200": _resp("DeadLetterList"), **_errors(401, 403, 422)},
        }},
        "/api/v1/supervisor/dead-letters/{entry_id}/redrive": {"post": {
            "tags": ["supervisor"], "summary": "Put a dead letter back on the outbox, exactly once (history event `redriven`)", "operationId": "redrive", **desk,
            "parameters": [{"name": "entry_id", "in": "path", "required": True, "schema": {"type": "string"}}, csrf],
            "responses": {"202": {"description": "queued: `{queued, ticket_id}`"},
                          **_errors(401, 403, 404), "409": _resp("Error", "already_redriven: 该条已被重新投递")},
        }},
        "/api/v1/supervisor/dead-letters/redrive": {"post": {
            "tags": ["supervisor"], "summary": "Re-drive the listed dead letters (`entry_ids`, ≤500) or all of them (`all: true`, optionally one `hop`), "
                                               "each exactly once, in batches; each ticket gets a `redriven` history event",
            "operationId": "redriveDeadLetters", **desk,
            "parameters": [csrf], "requestBody": _json_body("BulkRedriveIn"),
            "responses": {"202": _resp("BulkRedriveResult", "counts"), **_errors(401, 403, 415, 422)},
        }},
        "/api/v1/agent/taxonomy": {"get": {
            "tags": ["desk"], "summary": "Topic classes (two levels) agents choose from when they correct triage", "operationId": "taxonomy", **desk,
            "responses": {"200": {"description": "`{levels: [{name, children: [second-level names]}]}`"}, **_errors(401, 403)},
        }},
        "/api/v1/supervisor/dispatch-catalogue": {
            "get": {"tags": ["supervisor"], "summary": "派单目录: how recommended handling units are named per department type", "operationId": "getDispatchCatalogue",
                    **desk, "responses": {"200": {"description": "the catalogue (CatalogueIn's shape)"}, **_errors(401, 403)}},
            "put": {"tags": ["supervisor"], "summary": "Replace the 派单目录; every process triages with it within seconds", "operationId": "putDispatchCatalogue",
                    **desk, "parameters": [csrf], "requestBody": _json_body("CatalogueIn"),
                    "responses": {"200": {"description": "the stored catalogue"}, **_errors(401, 403, 415, 422)}},
        },
        "/api/v1/supervisor/local-inbox": {"get": {
            "tags": ["supervisor"], "summary": "本地收件箱: tickets delivered locally when no case system is configured", "operationId": "localInbox", **desk,
            "responses": {"200": {"description": "local inbox"}, **_errors(401, 403)},
        }},
        "/api/v1/chat": {"post": {
            "tags": ["citizen"], "summary": "Consultation chat with the bot (the conversation is one ticket)", "operationId": "chat",
            "requestBody": _json_body("ChatIn"),
            "responses": {"200": {"description": "reply, decision (answer|clarify|emergency|legal_channel|handoff|forward), ticket_id, "
                                                 "entry {id, version} for answers, options for clarify, line when an emergency number "
                                                 "is shown, prefill for forward (a forward also asks for a phone number; the turn that gives it "
                                                 "files the request: `filed: true`)"},
                          **_errors(415, 422, 429)},
        }},
        "/rasa/actions": {"post": {
            "tags": ["rasa"], "summary": "Rasa's custom-action server (rasa_sdk protocol); mounted only with HOTLINE_NLU=rasa",
            "description": "Body {next_action, sender_id, tracker, domain, version} as Rasa 3.6 sends it; reply {events, responses}, each response "
                           "with the reply text and custom.hotline = the decision (entry_id and version for KB answers). Header "
                           "X-Hotline-Action-Token = HOTLINE_RASA_ACTION_TOKEN when set; without a token only loopback peers may call. "
                           "Errors: {error, message (中文), action_name}.",
            "operationId": "rasaActions",
            "parameters": [{"name": "X-Hotline-Action-Token", "in": "header", "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object", "required": ["next_action", "tracker"]}}}},
            "responses": {"200": {"description": "events and responses"}, **_errors(400, 401, 403, 404, 413, 415)},
        }},
        **_kb_paths(),
        **_partner_paths(desk, csrf),
        "/healthz": {"get": {"tags": ["ops"], "summary": "Liveness", "operationId": "healthz", "responses": {"200": {"description": "alive"}}}},
        "/readyz": {"get": {"tags": ["ops"], "summary": "Readiness: Redis reachable, outbox lag under the limit", "operationId": "readyz",
                            "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
        "/metrics": {"get": {"tags": ["ops"], "summary": "Prometheus metrics", "operationId": "metrics",
                             "responses": {"200": {"description": "text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/schema/ticket.v1.json": {"get": {"tags": ["ops"], "summary": "JSON Schema of hotline.ticket/v1", "operationId": "ticketSchema",
                                           "responses": {"200": {"description": "JSON Schema", "content": {"application/schema+json": {"schema": {"type": "object"}}}}}}},
        "/openapi.json": {"get": {"tags": ["ops"], "summary": "This document", "operationId": "openapi",
                                  "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    }
    for part in _channel_parts():
        paths.update(part.paths(REF, _errors, desk, csrf))
    return {
        "openapi": "3.1.0",
        "info": {"title": "北京12345 intake gateway", "version": "1.0.0",
                 "description": "Every HTTP API of the gateway. Errors: {error, message (中文), fields?}. See docs/ for the contracts."},
        "paths": paths,
        "webhooks": {
            "caseSystemTicket": {"post": {
                "summary": "Outbound: the gateway delivers a ticket to the core case system at POST {CASE_SYSTEM_URL}/tickets",
                "description": "At-least-once. Headers: Idempotency-Key `<ticket id>:<hop>` (the receiver must answer a repeat with the same case_id), "
                               "X-Hotline-Timestamp (unix seconds), X-Hotline-Signature `sha256=` + hex HMAC-SHA256(secret, timestamp + '.' + body). "
                               "2xx with case_id = delivered; 408/409/425/429/5xx/timeout/refused = retried with exponential backoff and jitter; other 4xx = dead letter.",
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"}},
                    {"name": "X-Hotline-Timestamp", "in": "header", "required": True, "schema": {"type": "string"}},
                    {"name": "X-Hotline-Signature", "in": "header", "required": True, "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"}},
                ],
                "requestBody": _json_body("Ticket"),
                "responses": {"201": _resp("CaseReceipt", "accepted"), "200": _resp("CaseReceipt", "repeat of an accepted key")},
            }},
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "hl_session"}},
        },
    }
