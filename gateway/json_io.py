"""JSON in and out for the APIs: Chinese-friendly responses, and request bodies read with a size
limit (whatever the framing) and a nesting limit, then parsed as plain JSON or into a pydantic
model with per-field errors."""
from __future__ import annotations

import json
import re
from array import array
from collections.abc import Callable, Mapping
from itertools import accumulate
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.bodies import JSON_MAX_BYTES, read_request
from gateway.errors import ApiError

M = TypeVar("M", bound=BaseModel)

JSON_MAX_DEPTH = 32  # no API document nests deeper than a handful of levels

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OTHER = bytes(b for b in range(256) if b not in b"[]{}")
_SIGNS = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")  # as signed bytes: open +1, close -1


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


def _generic(_: Mapping[str, Any]) -> str:
    return "内容格式不正确"


def nesting_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest, without parsing it (and so without
    recursing): strings are cut out, the brackets that remain are counted. Exact for valid JSON;
    for invalid JSON any answer will do, since the parser refuses it anyway."""
    brackets = _STRING.sub(b"", raw).translate(None, _OTHER).translate(_SIGNS)
    return max(accumulate(array("b", brackets)), default=0)


def too_deep() -> ApiError:
    return ApiError(400, "invalid_json", f"JSON 嵌套层级过深（最多{JSON_MAX_DEPTH}层）")


def check_depth(raw: bytes) -> None:
    if nesting_depth(raw) > JSON_MAX_DEPTH:
        raise too_deep()


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(raw: bytes) -> Any:
    """Plain JSON (UTF-8, no NaN/Infinity, nesting ≤ JSON_MAX_DEPTH); 400 `invalid_json` otherwise."""
    check_depth(raw)
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_constant)
    except RecursionError:  # not reached after check_depth; kept as the last line of defence
        raise too_deep() from None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_json", "请求内容不是有效的 UTF-8 JSON") from None


async def read_json(request: web.Request, limit: int = JSON_MAX_BYTES) -> Any:
    """The body as plain JSON, read no further than `limit` bytes (413 beyond)."""
    return loads(await read_request(request, limit))


async def read_model(request: web.Request, model: type[M], describe: Callable[[Mapping[str, Any]], str] = _generic,
                     summary: str = "提交内容有误", limit: int = JSON_MAX_BYTES) -> M:
    """The body as `model`: 415 unless JSON, 413 beyond `limit` bytes, 400 if nested too deeply,
    422 with one message per field otherwise."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "请以 JSON 格式提交")
    raw = await read_request(request, limit)
    check_depth(raw)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        fields = [{"field": ".".join(map(str, e["loc"])) or "body", "code": e["type"], "message": describe(e)} for e in exc.errors()]
        raise ApiError(422, "validation_failed", summary, fields) from None
