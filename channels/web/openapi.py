"""The web channel's part of the OpenAPI document: the request form, tracking and the chat."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from channels.web.chat import ChatIn
from channels.web.followup import ChatFollowUpIn, TrackFollowUpIn
from channels.web.forms import CitizenRequestIn
from gateway.openapi_parts import REF, errors, json_body, response


class RequestAccepted(BaseModel):
    ticket_id: str
    status: str
    duplicate: bool
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
    followup: dict[str, object] | None = None  # {open, answer}: the 回访 after 办结
    merged_into: str | None = None  # a merged duplicate shows this ticket's progress


MODELS: tuple[type[BaseModel], ...] = (CitizenRequestIn, ChatIn, TrackFollowUpIn, ChatFollowUpIn)
RESPONSES: tuple[type[BaseModel], ...] = (RequestAccepted, TrackView)


def paths() -> dict[str, Any]:
    multipart = {
        "type": "object",
        "required": ["description", "phone"],
        "properties": {
            **{k: v for k, v in CitizenRequestIn.model_json_schema(ref_template=REF)["properties"].items() if k != "attachments"},
            "confidential": {"type": "string", "enum": ["true", "on", "1", "false", ""]},
            "attachments": {"type": "array", "maxItems": 5, "items": {"type": "string", "format": "binary"},
                            "description": "images (jpeg/png/gif/webp) and videos (mp4/quicktime/webm), type sniffed from content; ≤20 MB each, ≤50 MB total"},
        },
    }
    return {
        "/api/v1/requests": {"post": {
            "tags": ["citizen"], "summary": "Submit a citizen request (web channel)", "operationId": "submitRequest",
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 128, "pattern": r"^[\x21-\x7e]+$"}}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"$ref": REF.format(model="CitizenRequestIn")}},
                "multipart/form-data": {"schema": multipart},
            }},
            "responses": {"201": response("RequestAccepted", "ticket created"), "200": response("RequestAccepted", "same Idempotency-Key: the existing ticket"),
                          "303": {"description": "plain HTML form post: redirect to the tracking page"},
                          **errors(400, 413, 415, 422, 429)},
        }},
        "/api/v1/track": {"get": {
            "tags": ["citizen"], "summary": "Public status of a ticket", "operationId": "trackTicket",
            "parameters": [
                {"name": "ticket_id", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "phone_last4", "in": "query", "required": True, "schema": {"type": "string", "pattern": r"^\d{4}$"}},
            ],
            "responses": {"200": response("TrackView"), **errors(404, 422, 429)},
        }},
        "/api/v1/chat": {"post": {
            "tags": ["citizen"], "summary": "Consultation chat with the bot (the conversation is one ticket)", "operationId": "chat",
            "requestBody": json_body("ChatIn"),
            "responses": {"200": {"description": "reply, decision (answer|clarify|emergency|legal_channel|handoff|forward), ticket_id, "
                                                 "entry {id, version} for answers, options for clarify, line when an emergency number "
                                                 "is shown, prefill for forward (a forward also asks for a phone number; the turn that gives it "
                                                 "files the request: `filed: true`)"},
                          **errors(415, 422, 429)},
        }},
        "/api/v1/track/followup": {"post": {
            "tags": ["citizen"], "summary": "回访 after 办结, authorised like /track (ticket id and the phone's last four digits); once per ticket",
            "operationId": "trackFollowup", "requestBody": json_body("TrackFollowUpIn"),
            "responses": {"200": response("TrackView", "the public view with the answer"),
                          "409": {"description": "`followup_not_open` (not closed yet) or `followup_already_answered`"}, **errors(404, 415, 422, 429)},
        }},
        "/api/v1/chat/followup": {"post": {
            "tags": ["citizen"], "summary": "回访 of the chat's on-the-spot answer (the reply's `followup.ticket_id`), authorised by the chat session; once per ticket",
            "operationId": "chatFollowup", "requestBody": json_body("ChatFollowUpIn"),
            "responses": {"200": {"description": "`{ticket_id, followup, message}`"},
                          "409": {"description": "`followup_not_open` or `followup_already_answered`"}, **errors(404, 415, 422, 429)},
        }},
    }
