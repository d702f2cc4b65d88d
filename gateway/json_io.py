"""JSON in and out for the staff APIs: Chinese-friendly responses, and request bodies parsed
into a pydantic model with per-field errors."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.errors import ApiError

M = TypeVar("M", bound=BaseModel)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


def _generic(_: dict[str, Any]) -> str:
    return "内容格式不正确"


async def read_model(request: web.Request, model: type[M], describe: Callable[[dict[str, Any]], str] = _generic,
                     summary: str = "提交内容有误") -> M:
    """The body as `model`: 415 unless JSON, 422 with one message per field otherwise."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "请以 JSON 格式提交")
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        fields = [{"field": ".".join(map(str, e["loc"])) or "body", "code": e["type"], "message": describe(e)} for e in exc.errors()]
        raise ApiError(422, "validation_failed", summary, fields) from None
