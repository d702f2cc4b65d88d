"""The video channel's part of the OpenAPI document (server/openapi.py merges it)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from channels.video.forms import VideoAgentOfferIn, VideoCallbackIn, VideoChatIn, VideoFileIn, VideoOfferIn
from gateway.openapi_parts import CSRF, DESK, REF, errors

MODELS: tuple[type[BaseModel], ...] = (VideoOfferIn, VideoAgentOfferIn, VideoChatIn, VideoCallbackIn, VideoFileIn)

_SESSION_ID = {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 32}}
_TOKEN = {"name": "X-Video-Token", "in": "header", "required": True, "schema": {"type": "string"},
          "description": "the session token returned when the session was started"}


def video_paths(ref: str, errors: Any, desk: dict[str, Any], csrf: dict[str, Any]) -> dict[str, Any]:
    def body(model: str) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": {"$ref": ref.format(model=model)}}}}

    def citizen(summary: str, op_id: str, model: str | None, codes: tuple[int, ...], ok: str = "200") -> dict[str, Any]:
        out: dict[str, Any] = {"tags": ["video"], "summary": summary, "operationId": op_id, "parameters": [_SESSION_ID, _TOKEN],
                               "responses": {ok: {"description": "OK"}, **errors(*codes)}}
        if model:
            out["requestBody"] = body(model)
        return out

    def agent(summary: str, op_id: str, model: str | None, codes: tuple[int, ...], ok: str = "200") -> dict[str, Any]:
        out: dict[str, Any] = {"tags": ["video"], "summary": summary, "operationId": op_id, **desk, "parameters": [_SESSION_ID, csrf],
                               "responses": {ok: {"description": "OK"}, **errors(*codes)}}
        if model:
            out["requestBody"] = body(model)
        return out

    return {
        "/api/v1/video/config": {"get": {
            "tags": ["video"], "summary": "Limits the citizen's page applies (resolution, frame rate, bitrate, session length, queue timeout) and ICE servers",
            "operationId": "videoConfig", "responses": {"200": {"description": "configuration"}}}},
        "/api/v1/video/sessions": {"post": {
            "tags": ["video"], "summary": "Request a sign-language video session: the browser's SDP offer (all candidates, no trickle) in, "
                                          "the gateway's answer, session id and token, ticket id and place in the queue out",
            "operationId": "videoStart", "requestBody": body("VideoOfferIn"),
            "responses": {"201": {"description": "queued"}, **errors(413, 415, 422, 429),
                          "503": {"description": "video_busy: the concurrent-session limit is reached (Retry-After)"}}}},
        "/api/v1/video/sessions/{session_id}": {"get": citizen("The session's status, place in the queue and chat", "videoCitizenView", None, (401, 404))},
        "/api/v1/video/sessions/{session_id}/events": {"get": {
            "tags": ["video"], "summary": "WebSocket (token in the `token` query parameter): status, connected, chat, queue_timeout, warning, ended; "
                                          "closing it ends the session", "operationId": "videoCitizenEvents",
            "parameters": [_SESSION_ID, {"name": "token", "in": "query", "required": True, "schema": {"type": "string"}}],
            "responses": {"101": {"description": "switching protocols"}, **errors(401, 404)}}},
        "/api/v1/video/sessions/{session_id}/messages": {"post": citizen("Send a chat line", "videoCitizenMessage", "VideoChatIn", (401, 404, 409, 413, 415, 422), "201")},
        "/api/v1/video/sessions/{session_id}/callback": {"post": citizen("Leave the queue asking for a callback", "videoCitizenCallback", "VideoCallbackIn", (401, 404, 409, 415, 422))},
        "/api/v1/video/sessions/{session_id}/end": {"post": citizen("End the session (the ticket gets the recording and transcript)", "videoCitizenEnd", None, (401, 404))},
        "/api/v1/agent/video/sessions": {"get": {
            "tags": ["video"], "summary": "Waiting video requests (sign-language agents and supervisors) and connected sessions",
            "operationId": "videoAgentSessions", **desk, "responses": {"200": {"description": "sessions"}, **errors(401, 403)}}},
        "/api/v1/agent/video/sessions/{session_id}": {"get": {
            "tags": ["video"], "summary": "A session with its chat", "operationId": "videoAgentSession", **desk,
            "parameters": [_SESSION_ID], "responses": {"200": {"description": "session"}, **errors(401, 403, 404)}}},
        "/api/v1/agent/video/sessions/{session_id}/accept": {"post": agent(
            "Accept (sign_language agents): the agent's SDP offer in, the gateway's answer out", "videoAgentAccept", "VideoAgentOfferIn", (401, 403, 404, 409, 413, 415, 422))},
        "/api/v1/agent/video/sessions/{session_id}/decline": {"post": agent("Decline: hidden from this agent, still queued for the others", "videoAgentDecline", None, (401, 403, 404))},
        "/api/v1/agent/video/sessions/{session_id}/messages": {"post": agent("Send a chat line", "videoAgentMessage", "VideoChatIn", (401, 403, 404, 409, 415, 422), "201")},
        "/api/v1/agent/video/sessions/{session_id}/file": {"post": agent("File the ticket: content and kind", "videoAgentFile", "VideoFileIn", (401, 403, 404, 415, 422))},
        "/api/v1/agent/video/sessions/{session_id}/end": {"post": agent("End the session", "videoAgentEnd", None, (401, 403, 404))},
    }


def paths() -> dict[str, Any]:
    return video_paths(REF, errors, DESK, CSRF)
