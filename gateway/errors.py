"""One error shape for every API: machine code in English, message in Chinese for people."""
from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.fields is not None:
            body["fields"] = self.fields
        return web.Response(
            status=self.status, text=json.dumps(body, ensure_ascii=False),
            content_type="application/json", headers=self.headers,
        )


_HTTP_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式不正确"),
    401: ("not_authenticated", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "页面或资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    413: ("payload_too_large", "提交的内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
}


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400 or not _wants_json(request):
            raise
        code, message = _HTTP_DEFAULTS.get(exc.status, ("http_error", exc.reason or "请求失败"))
        return ApiError(exc.status, code, message, headers={k: v for k, v in exc.headers.items() if k.lower() == "allow"}).response()
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return ApiError(500, "internal_error", "系统繁忙，请稍后再试").response()


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/schema/", "/partners/")) or "application/json" in request.headers.get("Accept", "")
