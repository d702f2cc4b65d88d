"""`POST /case-system/v1/updates`: the core case system reports a forwarded ticket's progress
(受理, 办理中, 延期, 办结), signed like our forwards to it (docs/case-system.md).

The headers are checked before the body is read, the body parsed only once the signature
matches; each request carries a fresh `nonce` inside the signed body, remembered for as long as
its timestamp could be accepted, so a captured request cannot be replayed (a retry of the same
report has a new nonce and the same `update_id`, and is answered `duplicate`). What the report does to
the ticket is the kernel's (`gateway.case_updates`); a refused request stores nothing."""
from __future__ import annotations

import logging
import re

from aiohttp import web
from pydantic import Field, ValidationError

from gateway import keys
from gateway.app_keys import OUTBOX, REDIS, SETTINGS, TICKETS
from gateway.bodies import read_request
from gateway.case_updates import CaseUpdateIn, missing_fields, record_case_update
from gateway.errors import ApiError
from gateway.json_io import check_depth, json_response
from gateway.signing import first_use, verify, within_window

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # a report is a few hundred bytes; the longest field is 2000 characters
_TIMESTAMP = re.compile(r"^\d{1,12}$")
_SIGNATURE = re.compile(r"^sha256=[0-9a-f]{64}$")


def _refused(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


async def _authenticated_body(request: web.Request) -> bytes:
    secret = request.app[SETTINGS].case_system_secret
    if not secret:
        raise ApiError(503, "case_system_not_configured", "未配置派单系统密钥（CASE_SYSTEM_SECRET），暂不能接收办理状态")
    timestamp = request.headers.get("X-Hotline-Timestamp", "")
    signature = request.headers.get("X-Hotline-Signature", "")
    if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
        raise _refused("signature_missing", "缺少签名或签名格式不正确")
    if not within_window(int(timestamp)):
        raise _refused("stale_timestamp", "请求时间戳超出允许范围（±5分钟），请校准时钟后重试")
    body = await read_request(request, MAX_BODY_BYTES, message="办理状态内容过大")
    if not verify(secret, timestamp, body, signature):
        log.warning("case-system update refused", extra={"reason": "invalid_signature"})
        raise _refused("invalid_signature", "签名校验失败")
    return body


class SignedCaseUpdateIn(CaseUpdateIn):
    nonce: str = Field(pattern=r"^[A-Za-z0-9_-]{16,64}$", description="fresh for every request, a retry too; a repeat is a replay")


def parse_update(body: bytes) -> SignedCaseUpdateIn:
    check_depth(body)
    try:
        update = SignedCaseUpdateIn.model_validate_json(body)
    except ValidationError as exc:
        fields = [{"field": ".".join(map(str, e["loc"])) or "body", "code": e["type"], "message": "内容格式不正确"} for e in exc.errors()]
        raise ApiError(422, "validation_failed", "办理状态内容格式有误", fields) from None
    if missing := missing_fields(update):
        raise ApiError(422, "validation_failed", "办理状态内容不完整", missing)
    return update


async def receive_update(request: web.Request) -> web.Response:
    body = await _authenticated_body(request)
    update = parse_update(body)
    app = request.app
    if not await first_use(app[REDIS], f"{keys.P}case-system:nonce:{update.nonce}"):
        raise _refused("replayed_request", "该请求已处理过（nonce 重复），请勿重放；重试请使用新的 nonce 并重新签名")
    report = CaseUpdateIn.model_validate(update.model_dump(exclude={"nonce"}))  # the nonce was the request's, not the report's
    result = await record_case_update(app[TICKETS], app[OUTBOX], report, actor="case-system")
    log.info("case-system update", extra={"ticket": update.ticket_id, "status": update.status, "outcome": result.outcome})
    case = result.ticket.case
    return json_response({
        "update_id": update.update_id, "ticket_id": update.ticket_id, "outcome": result.outcome,
        "ignored_because": result.ignored_because, "case_status": case.status if case else None,
    })


def setup(app: web.Application) -> None:
    app.router.add_post("/case-system/v1/updates", receive_update, name="case_system_update")
