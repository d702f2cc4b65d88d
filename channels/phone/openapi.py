"""The phone channel's part of the OpenAPI document: the agent's live calls and what the call assistant offers."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from channels.phone.routes import KbAnswerIn
from gateway.openapi_parts import CSRF, DESK, TICKET_ID, errors, json_body, response

MODELS: tuple[type[BaseModel], ...] = (KbAnswerIn,)


def paths() -> dict[str, Any]:
    return {
        "/api/v1/agent/tickets/{ticket_id}/kb-answers": {"post": {
            "tags": ["phone"], "summary": "Insert a knowledge-base answer into the ticket (records entry and version)", "operationId": "insertKbAnswer", **DESK,
            "parameters": [TICKET_ID, CSRF], "requestBody": json_body("KbAnswerIn"),
            "responses": {"200": response("Ticket"), **errors(401, 403, 404, 415, 422)},
        }},
        "/api/v1/agent/tickets/{ticket_id}/prefill/{field}/confirm": {"post": {
            "tags": ["phone"], "summary": "Confirm a field pre-filled from the call transcript", "operationId": "confirmPrefill", **DESK,
            "parameters": [TICKET_ID, {"name": "field", "in": "path", "required": True,
                                        "schema": {"type": "string", "enum": ["kind", "location", "callback_phone"]}}, CSRF],
            "responses": {"200": response("Ticket"), **errors(401, 403, 404, 409)},
        }},
        "/api/v1/agent/calls": {"get": {
            "tags": ["phone"], "summary": "Live calls of this agent (all calls for supervisors), with caller history, suggestions and pre-filled fields",
            "operationId": "liveCalls", **DESK,
            "responses": {"200": {"description": "live calls and the AMI connection state"}, **errors(401, 403)},
        }},
    }
