"""The gateway as Rasa's action server: rasa_sdk's JSON protocol at ``POST /rasa/actions``.

Rasa posts ``{"next_action", "sender_id", "tracker", "domain", "version"}`` and expects
``{"events": [...], "responses": [...]}``. Each of our actions answers with the citizen's
reply text and, as a ``custom`` payload, the structured decision (entry and version for KB
answers), which the REST channel hands back to the gateway untouched; the entry and version
are also set as slots so Rasa's tracker records them.

Errors follow rasa_sdk (``action_name`` and ``error``; Rasa turns a 400 into an
ActionExecutionRejection) plus our Chinese ``message``. Protection: with
``HOTLINE_RASA_ACTION_TOKEN`` set, every call must carry it in ``X-Hotline-Action-Token``
(Rasa's endpoints.yml sends it as a header); without a token only loopback peers may call.
"""
from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.rasa.decisions import ACTIONS
from gateway import clock
from gateway.app_keys import SETTINGS
from gateway.client_address import client_address
from knowledge_base.app_keys import KNOWLEDGE
from knowledge_base.snapshot import KnowledgeSnapshot

log = logging.getLogger(__name__)

PATH = "/rasa/actions"
TOKEN_HEADER = "X-Hotline-Action-Token"
MAX_BODY = 4 * 1024 * 1024  # a tracker carries the whole conversation's events
_LOOPBACK = {"127.0.0.1", "::1"}


class LatestMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str | None = None
    intent: dict[str, Any] = Field(default_factory=dict)
    entities: list[dict[str, Any]] = Field(default_factory=list)
    intent_ranking: list[dict[str, Any]] = Field(default_factory=list)


class Tracker(BaseModel):
    model_config = ConfigDict(extra="allow")
    sender_id: str
    slots: dict[str, Any] = Field(default_factory=dict)
    latest_message: LatestMessage = Field(default_factory=LatestMessage)


class ActionCall(BaseModel):
    model_config = ConfigDict(extra="allow")
    next_action: str = Field(min_length=1, max_length=200)
    sender_id: str | None = None
    tracker: Tracker
    domain: dict[str, Any] | None = None
    version: str | None = None


def _error(status: int, code: str, message: str, action_name: str | None = None,
           fields: list[dict[str, str]] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": code, "message": message, "action_name": action_name}
    if fields:
        body["fields"] = fields
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def handler(snapshot: Callable[[], KnowledgeSnapshot], token: str | None) -> Callable[[web.Request], Any]:
    """The endpoint, over whatever serves the current knowledge snapshot."""

    async def run_action(request: web.Request) -> web.Response:
        if token:
            given = request.headers.get(TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _error(401, "action_token_invalid", "动作接口令牌缺失或无效")
        elif client_address(request) not in _LOOPBACK:  # behind a trusted proxy: the forwarded address
            return _error(403, "action_endpoint_local_only", "未配置动作接口令牌时只接受本机调用（请设置 HOTLINE_RASA_ACTION_TOKEN）")
        if request.content_type != "application/json":
            return _error(415, "unsupported_media_type", "请以 JSON 格式提交")
        if (request.content_length or 0) > MAX_BODY:
            return _error(413, "action_request_too_large", "动作请求内容过大")
        try:
            raw = await request.content.read(MAX_BODY + 1)
        except (ValueError, ConnectionError):
            return _error(400, "invalid_body", "请求内容无法读取")
        if len(raw) > MAX_BODY:
            return _error(413, "action_request_too_large", "动作请求内容过大")
        try:
            call = ActionCall.model_validate_json(raw)
        except ValidationError as exc:
            fields = [{"field": ".".join(map(str, e["loc"])) or "body", "code": e["type"]} for e in exc.errors()]
            invalid_json = any(e["type"] == "json_invalid" for e in exc.errors())
            return _error(400, "invalid_json" if invalid_json else "invalid_action_call",
                          "请求不是有效的 JSON" if invalid_json else "动作请求格式不正确（需要 next_action 和 tracker）",
                          fields=fields)
        action = ACTIONS.get(call.next_action)
        if action is None:
            # rasa_sdk answers an unknown action with 404 and its name.
            return _error(404, "action_not_found", f"没有名为 {call.next_action} 的动作", call.next_action)
        decision, events = action(call.tracker.model_dump(), snapshot(), clock.now())
        payload = {"hotline": decision.as_dict()}
        log.info("rasa action", extra={"action": call.next_action, "decision": decision.type, "entry": decision.entry_id})
        body = {"events": events, "responses": [{"text": decision.reply, "custom": payload}]}
        return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))

    return run_action


def setup(app: web.Application) -> None:
    """Mounted only with HOTLINE_NLU=rasa: nothing to call it otherwise."""
    settings = app[SETTINGS]
    app.router.add_post(PATH, handler(lambda: app[KNOWLEDGE].snapshot, settings.rasa_action_token), name="rasa_actions")
