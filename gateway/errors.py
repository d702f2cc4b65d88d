"""One error shape for every API: machine code in English, message in Chinese for people."""
from __future__ import annotations

import html
import json
import logging
from typing import Any

from aiohttp import web

from gateway.redis_faults import REDIS_ERRORS, describe

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
    except REDIS_ERRORS as exc:
        # An outage, not a bug: one line, no traceback; clients are told when to come back.
        log.warning("store unavailable", extra={"method": request.method, "path": request.path, "error": describe(exc)})
        return store_unavailable(request)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return ApiError(500, "internal_error", "系统繁忙，请稍后再试").response()


STORE_UNAVAILABLE_CODE = "store_unavailable"
STORE_UNAVAILABLE_MESSAGE = "系统暂时无法保存和读取数据，请稍后再试。您此前已提交成功的诉求不会丢失；如情况紧急，请直接拨打12345热线。"
STORE_RETRY_AFTER_SECONDS = 5

_STORE_UNAVAILABLE_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>系统暂时不可用 - 北京12345</title></head>
<body><main><h1>系统暂时不可用</h1><p>{message}</p><p><a href="{again}">{again_label}</a></p></main></body></html>
"""


def store_unavailable(request: web.Request) -> web.Response:
    """503 while Redis (the only store) is unreachable: JSON for APIs, a short page for browsers."""
    headers = {"Retry-After": str(STORE_RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    accept = request.headers.get("Accept", "")
    browser_form = "text/html" in accept and "application/json" not in accept  # e.g. the portal form without JavaScript
    if _wants_json(request) and not browser_form:
        return ApiError(503, STORE_UNAVAILABLE_CODE, STORE_UNAVAILABLE_MESSAGE, headers=headers).response()
    again, label = (request.path_qs, "重新加载本页") if request.method == "GET" else ("/", "返回首页")
    page = _STORE_UNAVAILABLE_PAGE.format(message=STORE_UNAVAILABLE_MESSAGE, again=html.escape(again), again_label=label)
    return web.Response(status=503, text=page, content_type="text/html", headers=headers)


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/schema/", "/partners/", "/case-system/")) or "application/json" in request.headers.get("Accept", "")
