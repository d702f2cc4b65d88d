"""The pieces every part of the OpenAPI document is written with (the server's own paths and each
channel's `openapi.py`): schema references, the shared error responses, the staff session and
the CSRF header."""
from __future__ import annotations

from typing import Any

REF = "#/components/schemas/{model}"

_ERROR_TEXT = {400: "请求格式不正确", 401: "未登录", 403: "无权限或 CSRF 校验失败", 404: "不存在", 409: "状态冲突",
               413: "内容过大", 415: "内容类型不支持", 422: "字段校验失败", 429: "请求过于频繁"}

SESSION: list[dict[str, list[str]]] = [{"session": []}]
DESK: dict[str, Any] = {"security": SESSION}
"""A staff route: the hl_session cookie."""
CSRF: dict[str, Any] = {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}
TICKET_ID: dict[str, Any] = {"name": "ticket_id", "in": "path", "required": True,
                             "schema": {"type": "string", "pattern": r"^[A-Z]{2}-\d{8}-\d{6,}$"}}


def response(model: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}}}


def errors(*codes: int) -> dict[str, Any]:
    """The `Error` responses for these statuses."""
    return {str(c): response("Error", _ERROR_TEXT[c]) for c in codes}


def json_body(model: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}}}
