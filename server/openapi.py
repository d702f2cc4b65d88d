"""The OpenAPI 3.1 document of every HTTP API of the product, including the outbound call to
the core case system (as a webhook, since the gateway is the caller there).

`tests/server/test_openapi.py` checks that every registered API route appears here."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from gateway.auth import PasswordChangeIn
from gateway.channel import OpenApiPart
from gateway.followups import FollowUpIn
from gateway.openapi_parts import REF, SESSION, TICKET_ID, errors, json_body, response
from gateway.ticket import Ticket
from knowledge_base.models import EntryContent, EntryVersion
from knowledge_base.routes import NewEntryIn, PublishIn, RejectIn, RollbackIn, SaveIn, SynonymsIn, TryIn
from server.case_status_routes import SignedCaseUpdateIn
from server.desk_routes import BulkRedriveIn, CatalogueIn, ForwardIn, LoginIn, NoteIn, TicketPatch
from server.duplicate_routes import MergeIn
from server.hotspot_routes import NoticeIn
from server.local_inbox_routes import LocalCaseMarkIn
from server.registry import channels

HOTSPOT_ID = {"name": "hotspot_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^HS-[0-9A-F]{10}$"}}


class Error(BaseModel):
    error: str = Field(description="machine-readable code, e.g. invalid_phone")
    message: str = Field(description="说明（简体中文）")
    fields: list[dict[str, str]] | None = Field(None, description="per-field errors: field, code, message")


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


class CaseReceipt(BaseModel):
    model_config = ConfigDict(extra="allow")
    case_id: str = Field(description="the case system's id for the ticket; the same for a repeated Idempotency-Key")


class CaseUpdateReceipt(BaseModel):
    update_id: str
    ticket_id: str
    outcome: Literal["applied", "duplicate", "ignored"] = Field(
        description="applied; duplicate: this update_id was applied before (one event); ignored: out of order, nothing changed")
    ignored_because: Literal["closed", "stale"] | None = Field(
        description="closed: the case is closed (办结 is final); stale: the case is already further on, or at a later time")
    case_status: Literal["accepted", "in_progress", "postponed", "closed"] | None = Field(description="the case's status after this report")


def _case_system_paths() -> dict[str, Any]:
    signed = [
        {"name": "X-Hotline-Timestamp", "in": "header", "required": True, "schema": {"type": "string", "pattern": r"^\d{1,12}$"},
         "description": "unix seconds; accepted within ±300 s of the gateway's clock"},
        {"name": "X-Hotline-Signature", "in": "header", "required": True, "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
         "description": "`sha256=` + hex HMAC-SHA256(CASE_SYSTEM_SECRET, timestamp + '.' + raw body), as on our forwards"},
    ]
    return {
        "/case-system/v1/updates": {"post": {
            "tags": ["case system"], "operationId": "caseSystemUpdate",
            "summary": "The core case system reports a forwarded ticket's progress: 受理 accepted, 办理中 in_progress, 延期 postponed, 办结 closed",
            "description": "Signed like the gateway's forwards (docs/case-system.md). The signature is checked before the body is parsed; "
                           "`nonce` (in the signed body) is fresh for every request, a retry too: a nonce seen within 11 minutes is a replay. "
                           "Idempotent on `update_id`: a repeat is answered `duplicate` and recorded once. Only forward: a report behind the "
                           "case's status (or the same rank at an earlier time) is `ignored` (stale); after `closed` every other report is "
                           "`ignored` (closed). `postponed` needs `reason` and `due_at`; `closed` needs `result` and `unit`. "
                           "401 `signature_missing`, `stale_timestamp`, `invalid_signature`, `replayed_request`; 404 `ticket_not_found`; "
                           "409 `not_forwarded`, `case_mismatch` (the case_id differs from the forward's receipt); 413; 422 `validation_failed` "
                           "with the fields; 503 `case_system_not_configured` (no CASE_SYSTEM_SECRET).",
            "parameters": signed, "requestBody": json_body("SignedCaseUpdateIn"),
            "responses": {"200": response("CaseUpdateReceipt", "taken: applied, duplicate or ignored"), **errors(401, 404, 409, 413, 422),
                          "503": response("Error", "case_system_not_configured")},
        }},
        "/api/v1/supervisor/local-inbox/{ticket_id}/status": {"post": {
            "tags": ["supervisor"], "operationId": "localInboxMark", "security": SESSION,
            "summary": "本地收件箱: a supervisor reports a case's status as the case system would (same rules, same code); only without CASE_SYSTEM_URL",
            "description": "409 `case_system_configured` when a real case system is configured, `case_closed` after 办结, `out_of_order`; "
                           "404 `not_in_local_inbox`; 422 with the fields (`result_required`, `unit_required`, `reason_required`, `due_at_required`).",
            "parameters": [TICKET_ID, {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}],
            "requestBody": json_body("LocalCaseMarkIn"),
            "responses": {"200": response("Ticket", "the ticket with its case block"), **errors(401, 403, 404, 409, 415, 422)},
        }},
    }


def _kb_paths() -> dict[str, Any]:
    kb = {"tags": ["knowledge base"], "security": SESSION}
    entry = {"name": "entry_id", "in": "path", "required": True, "schema": {"type": "string"}}
    csrf = {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}

    def op(summary: str, op_id: str, params: list[dict[str, Any]] | None = None, body: str | None = None,
           codes: tuple[int, ...] = (401, 403, 404), ok: str = "200") -> dict[str, Any]:
        out: dict[str, Any] = {**kb, "summary": summary, "operationId": op_id, "parameters": params or [],
                               "responses": {ok: {"description": "OK"}, **errors(*codes)}}
        if body:
            out["requestBody"] = json_body(body)
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



def _channel_parts() -> list[OpenApiPart]:
    return [channel.openapi() for channel in channels() if channel.openapi is not None]


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    inputs: list[type[BaseModel]] = [
        LoginIn, PasswordChangeIn, NoteIn, TicketPatch, ForwardIn, EntryContent,
        NewEntryIn, SaveIn, PublishIn, RejectIn, RollbackIn, TryIn, SynonymsIn, BulkRedriveIn, CatalogueIn, SignedCaseUpdateIn, LocalCaseMarkIn,
        FollowUpIn, MergeIn, NoticeIn,
        *(m for part in _channel_parts() for m in part.models)]
    outputs: list[type[BaseModel]] = [EntryVersion, Ticket, Error, TicketSummary, TicketList, DeadLetterList, BulkRedriveResult, CaseReceipt, CaseUpdateReceipt,
                                      *(m for part in _channel_parts() for m in part.responses)]
    modes: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = (
        [(m, "validation") for m in inputs] + [(m, "serialization") for m in outputs])
    _, defs = models_json_schema(
        modes,
        ref_template=REF,
    )
    schemas = defs["$defs"]
    desk = {"security": SESSION}
    csrf = {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {
        "/api/v1/auth/login": {"post": {
            "tags": ["desk"], "summary": "Log in to the agent desktop", "operationId": "login",
            "requestBody": json_body("LoginIn"),
            "responses": {"200": {"description": "logged in; sets the hl_session cookie. `user.must_change_password`: every other "
                                                  "staff API answers 403 `password_change_required` until POST /api/v1/auth/password"},
                          **errors(401, 415, 422, 429)},
            "description": "Failures only are counted: 10 per user name (any address) or 30 per client address (any user name) "
                           "within 15 minutes lock that name or address for 15 minutes: 429 `login_locked` with Retry-After, "
                           "checked before the password.",
        }},
        "/api/v1/auth/password": {"post": {
            "tags": ["desk"], "summary": "Change the own password (also the forced change at first login)", "operationId": "changePassword",
            **desk, "parameters": [csrf], "requestBody": json_body("PasswordChangeIn"),
            "description": "Ends every session of the user and answers with a fresh session cookie and CSRF token. 422 with the "
                           "field: `current_password_wrong` (counts as a failed login), `password_unchanged`, `password_too_short`, "
                           "`password_too_long`, `password_too_simple`, `password_too_common`, `password_contains_username`.",
            "responses": {"200": {"description": "`{user, csrf_token}`; sets a new hl_session cookie"}, **errors(401, 403, 415, 422, 429)},
        }},
        "/api/v1/auth/logout": {"post": {"tags": ["desk"], "summary": "Log out", "operationId": "logout", **desk,
                                         "parameters": [csrf], "responses": {"200": {"description": "logged out"}, **errors(401, 403)}}},
        "/api/v1/auth/me": {"get": {"tags": ["desk"], "summary": "Current user and CSRF token", "operationId": "me", **desk,
                                    "responses": {"200": {"description": "the user"}, **errors(401)}}},
        "/api/v1/agent/desk-panels": {"get": {
            "tags": ["desk"], "summary": "The channels' panels of the agent desk: {panels: [{channel, script, styles}]}",
            "operationId": "deskPanels", **desk, "responses": {"200": {"description": "the panels"}, **errors(401, 403)},
        }},
        "/api/v1/agent/tickets": {"get": {
            "tags": ["desk"], "summary": "Recent tickets, newest first", "operationId": "listTickets", **desk,
            "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                           {"name": "before", "in": "query", "schema": {"type": "integer"}, "description": "epoch ms"}],
            "responses": {"200": response("TicketList"), **errors(401, 403, 422)},
        }},
        "/api/v1/agent/tickets/{ticket_id}": {
            "get": {"tags": ["desk"], "summary": "A ticket with history and delivery ledger", "operationId": "getTicket", **desk,
                    "parameters": [TICKET_ID], "responses": {"200": response("Ticket"), **errors(401, 403, 404)}},
            "patch": {"tags": ["desk"], "summary": "Correct kind, location and callback phone; confirm or correct triage's topic and handling unit "
                                                     "(`dispatch`); corrections of machine-filled values are kept as training data",
                      "operationId": "patchTicket", **desk,
                      "parameters": [TICKET_ID, csrf], "requestBody": json_body("TicketPatch"),
                      "responses": {"200": response("Ticket"), **errors(401, 403, 404, 415, 422)}},
        },
        "/api/v1/agent/tickets/{ticket_id}/notes": {"post": {
            "tags": ["desk"], "summary": "Add an agent note", "operationId": "addNote", **desk,
            "parameters": [TICKET_ID, csrf], "requestBody": json_body("NoteIn"),
            "responses": {"200": response("Ticket"), **errors(401, 403, 404, 415, 422)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/forward": {"post": {
            "tags": ["desk"], "summary": "Forward to the core case system", "operationId": "forwardTicket", **desk,
            "parameters": [TICKET_ID, csrf], "requestBody": {**json_body("ForwardIn"), "required": False},
            "responses": {"202": {"description": "queued in the outbox"}, **errors(401, 403, 404, 409)},
        }},
        "/api/v1/agent/blobs/{sha256}": {"get": {
            "tags": ["desk"], "summary": "An attachment by content hash", "operationId": "getBlob", **desk,
            "parameters": [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}],
            "responses": {"200": {"description": "the file"}, **errors(401, 403, 404)},
        }},
        "/api/v1/agent/ws": {"get": {
            "tags": ["desk"], "summary": "WebSocket of live events: ticket.created, ticket.updated, and for the agents of a call call.ringing, call.connected, call.partial, call.final, call.lag, call.suggestions, call.prefill, call.transferred, call.ended", "operationId": "deskSocket", **desk,
            "responses": {"101": {"description": "switching protocols"}, **errors(401, 403)},
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
            "responses": {"200": response("DeadLetterList"), **errors(401, 403, 422)},
        }},
        "/api/v1/supervisor/dead-letters/{entry_id}/redrive": {"post": {
            "tags": ["supervisor"], "summary": "Put a dead letter back on the outbox, exactly once (history event `redriven`)", "operationId": "redrive", **desk,
            "parameters": [{"name": "entry_id", "in": "path", "required": True, "schema": {"type": "string"}}, csrf],
            "responses": {"202": {"description": "queued: `{queued, ticket_id}`"},
                          **errors(401, 403, 404), "409": response("Error", "already_redriven: 该条已被重新投递")},
        }},
        "/api/v1/supervisor/dead-letters/redrive": {"post": {
            "tags": ["supervisor"], "summary": "Re-drive the listed dead letters (`entry_ids`, ≤500) or all of them (`all: true`, optionally one `hop`), "
                                               "each exactly once, in batches; each ticket gets a `redriven` history event",
            "operationId": "redriveDeadLetters", **desk,
            "parameters": [csrf], "requestBody": json_body("BulkRedriveIn"),
            "responses": {"202": response("BulkRedriveResult", "counts"), **errors(401, 403, 415, 422)},
        }},
        "/api/v1/agent/taxonomy": {"get": {
            "tags": ["desk"], "summary": "Topic classes (two levels) agents choose from when they correct triage", "operationId": "taxonomy", **desk,
            "responses": {"200": {"description": "`{levels: [{name, children: [second-level names]}]}`"}, **errors(401, 403)},
        }},
        "/api/v1/supervisor/dispatch-catalogue": {
            "get": {"tags": ["supervisor"], "summary": "派单目录: how recommended handling units are named per department type", "operationId": "getDispatchCatalogue",
                    **desk, "responses": {"200": {"description": "the catalogue (CatalogueIn's shape)"}, **errors(401, 403)}},
            "put": {"tags": ["supervisor"], "summary": "Replace the 派单目录; every process triages with it within seconds", "operationId": "putDispatchCatalogue",
                    **desk, "parameters": [csrf], "requestBody": json_body("CatalogueIn"),
                    "responses": {"200": {"description": "the stored catalogue"}, **errors(401, 403, 415, 422)}},
        },
        "/api/v1/supervisor/rates": {"get": {
            "tags": ["supervisor"], "operationId": "rates", **desk,
            "summary": "响应率, 解决率, 满意率 and their counts for a period, grouped (docs/rates.md); JSON or CSV",
            "parameters": [
                {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "date (Beijing) or ISO time with offset; default 6 days ago"},
                {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "date (inclusive) or ISO time (exclusive); default today; at most 92 days"},
                {"name": "by", "in": "query", "schema": {"type": "string", "enum": ["hour", "day", "channel", "kind", "topic", "district", "unit", "total"], "default": "day"}},
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"}},
            ],
            "responses": {"200": {"description": "`{from, to, by, rows: [{key, label, <counters>, response_rate, resolution_rate, satisfaction_rate}], total}`, "
                                                 "or text/csv with Chinese headers"}, **errors(401, 403, 422)},
        }},
        "/api/v1/supervisor/wall": {"get": {
            "tags": ["supervisor"], "operationId": "supervisorWall", **desk,
            "summary": "监督大屏 data: volumes by channel, kind, topic, district and hour, outcome shares and the three rates for a period; "
                       "deadlines, queues, desks online, 热点, held duplicates and map points as they are now",
            "description": "Read from hourly counters and watch lists kept with every ticket write, never by scanning tickets. "
                           "The desk WebSocket sends `wall.changed` (at most twice a second) when a refetch would show something new.",
            "parameters": [
                {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "first day (Beijing); default today"},
                {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "last day, included; default today; at most 92 days"},
            ],
            "responses": {"200": {"description": "`{from, to, generated_at, volume: {total, by_hour (per day past 7 days: timeline), by_channel, by_kind, by_topic, by_district, by_hour}, outcomes, rates, "
                                                 "deadlines: {overdue_count, due_soon_count, overdue, due_soon, awaiting_response, awaiting_response_late}, "
                                                 "waiting, agents_online, hotspots, duplicates: {pending}, points}`"}, **errors(401, 403, 422)},
        }},
        "/api/v1/supervisor/wall.csv": {"get": {
            "tags": ["supervisor"], "operationId": "supervisorWallCsv", **desk,
            "summary": "One table of the wall as CSV (UTF-8 with BOM, Chinese headers)",
            "parameters": [
                {"name": "table", "in": "query", "required": True,
                 "schema": {"type": "string", "enum": ["channel", "kind", "topic", "district", "hour", "deadlines", "hotspots"]}},
                {"name": "from", "in": "query", "schema": {"type": "string"}}, {"name": "to", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {"200": {"description": "text/csv"}, **errors(401, 403, 422)},
        }},
        "/api/v1/supervisor/hotspots": {"get": {
            "tags": ["supervisor"], "operationId": "listHotspots", **desk,
            "summary": "热点: open ones first, then the latest closed; each with its requests, trend, notice; and the rules in force",
            "responses": {"200": {"description": "`{hotspots: [{id, topic, district, street, state, count, first_at, last_at, trend, ticket_ids, notice}], rules}`"},
                          **errors(401, 403)},
        }},
        "/api/v1/supervisor/hotspots/{hotspot_id}": {"get": {
            "tags": ["supervisor"], "operationId": "getHotspot", **desk, "summary": "One 热点",
            "parameters": [HOTSPOT_ID], "responses": {"200": {"description": "the 热点"}, **errors(401, 403, 404)},
        }},
        "/api/v1/supervisor/hotspots/{hotspot_id}/notice": {"post": {
            "tags": ["supervisor"], "operationId": "publishHotspotNotice", **desk,
            "summary": "Publish a notice from an open 热点: a knowledge-base entry, served at once and until `expires_at`, without a second reviewer "
                       "(audited as notice_published; at most 7 days)",
            "description": "409 `hotspot_closed`; 422 `validation_failed` (`expires_not_after_today`), `notice_too_long`; 404 `hotspot_not_found`.",
            "parameters": [HOTSPOT_ID, csrf], "requestBody": json_body("NoticeIn"),
            "responses": {"201": {"description": "`{notice: {entry_id, text, expires_at, by, at}, hotspot}`"}, **errors(401, 403, 404, 409, 415, 422)},
        }},
        "/api/v1/supervisor/hotspots/{hotspot_id}/close": {"post": {
            "tags": ["supervisor"], "operationId": "closeHotspot", **desk,
            "summary": "Close a 热点; its area and topic count afresh from now",
            "parameters": [HOTSPOT_ID, csrf], "responses": {"200": {"description": "the closed 热点"}, **errors(401, 403, 404, 409)},
        }},
        "/api/v1/agent/followups": {"get": {
            "tags": ["desk"], "operationId": "followupCallbacks", **desk,
            "summary": "回访 callback list: phone (or video) tickets answered or closed and not yet rated, longest waiting first",
            "parameters": [{"name": "channel", "in": "query", "schema": {"type": "string", "enum": ["phone", "video"], "default": "phone"}}],
            "responses": {"200": {"description": "`{channel, items: [ticket summary + open_since, reason]}`"}, **errors(401, 403, 422)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/followup": {"post": {
            "tags": ["desk"], "operationId": "recordFollowup", **desk,
            "summary": "Record the 回访 answer a citizen gave on the phone (once per ticket)",
            "description": "409 `followup_not_open` (not answered or closed yet), `followup_already_answered`; 404 `ticket_not_found`.",
            "parameters": [TICKET_ID, csrf], "requestBody": json_body("FollowUpIn"),
            "responses": {"200": response("Ticket"), **errors(401, 403, 404, 409, 415, 422)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/duplicates": {"get": {
            "tags": ["desk"], "operationId": "ticketDuplicates", **desk,
            "summary": "疑似重复: the ticket beside its duplicate candidates (text, place, topic, masked phone, score, reason)",
            "parameters": [TICKET_ID], "responses": {"200": {"description": "`{ticket, candidates: [{ticket_id, score, reason, at, ticket}]}`"}, **errors(401, 403, 404)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/merge": {"post": {
            "tags": ["desk"], "operationId": "mergeTicket", **desk,
            "summary": "合并: attach this held duplicate to the case of `into` (one of its candidates); it is never forwarded; the case system gets hop `related`",
            "description": "409 `not_a_duplicate_candidate`, `already_merged`, `already_forwarded`, `primary_merged`, `primary_closed`, "
                           "`primary_not_forwarded`; 404 `ticket_not_found`, `primary_not_found`; 422 for an invalid or the same id.",
            "parameters": [TICKET_ID, csrf], "requestBody": json_body("MergeIn"),
            "responses": {"200": response("Ticket", "the merged ticket"), **errors(401, 403, 404, 409, 415, 422)},
        }},
        "/api/v1/supervisor/local-inbox": {"get": {
            "tags": ["supervisor"], "summary": "本地收件箱: tickets delivered locally when no case system is configured, with each case's status",
            "operationId": "localInbox", **desk,
            "responses": {"200": {"description": "`{label, items: [{case_id, ticket_id, received_at, case_status}]}`"}, **errors(401, 403)},
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
            "responses": {"200": {"description": "events and responses"}, **errors(400, 401, 403, 404, 413, 415)},
        }},
        **_kb_paths(),
        **_case_system_paths(),
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
        paths.update(part.paths())
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
                "requestBody": json_body("Ticket"),
                "responses": {"201": response("CaseReceipt", "accepted"), "200": response("CaseReceipt", "repeat of an accepted key")},
            }},
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "hl_session"}},
        },
    }
