"""Reading a citizen submission off the wire: JSON, urlencoded or multipart, with size limits
enforced while reading (413 as soon as a limit is crossed) and file types sniffed from content."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from gateway.errors import ApiError
from gateway.media_types import IMAGE_TYPES, VIDEO_TYPES, sniff
from gateway.settings import Settings

TEXT_FIELD_MAX_BYTES = 16 * 1024
_ACCEPTED = IMAGE_TYPES | VIDEO_TYPES
_TYPES_MESSAGE = "附件仅支持 JPG、PNG、GIF、WebP 图片和 MP4、MOV、WebM 视频"


@dataclass
class Upload:
    filename: str | None
    data: bytes
    mime: str


@dataclass
class Submission:
    fields: dict[str, Any]
    uploads: list[Upload] = field(default_factory=list)


def human_size(n: int) -> str:
    """20971520 → 20MB, 1536 → 1.5KB: limits as people read them."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return f"{n}字节"


class UploadLimits:
    def __init__(self, settings: Settings) -> None:
        self.per_file = settings.attachment_max_bytes
        self.total = settings.attachments_max_total_bytes
        self.count = settings.attachments_max_count

    def too_large(self) -> ApiError:
        return ApiError(413, "attachment_too_large", f"单个附件不能超过{human_size(self.per_file)}", [
            {"field": "attachments", "code": "attachment_too_large", "message": f"单个附件不能超过{human_size(self.per_file)}"}])

    def total_too_large(self) -> ApiError:
        return ApiError(413, "payload_too_large", f"附件合计不能超过{human_size(self.total)}", [
            {"field": "attachments", "code": "payload_too_large", "message": f"附件合计不能超过{human_size(self.total)}"}])

    def too_many(self) -> ApiError:
        return ApiError(422, "validation_failed", f"最多上传{self.count}个附件", [
            {"field": "attachments", "code": "too_many_attachments", "message": f"最多上传{self.count}个附件"}])


def check_upload(data: bytes, filename: str | None) -> Upload:
    mime = sniff(data[:32])
    if mime not in _ACCEPTED:
        raise ApiError(415, "unsupported_media_type", _TYPES_MESSAGE, [
            {"field": "attachments", "code": "unsupported_attachment_type", "message": _TYPES_MESSAGE}])
    return Upload(filename=(filename or None) and filename[-200:], data=data, mime=mime)


async def read_submission(request: web.Request, limits: UploadLimits) -> Submission:
    ctype = request.content_type
    if request.content_length is not None and request.content_length > limits.total + 1024 * 1024:
        raise limits.total_too_large()
    if ctype == "application/json":
        return _from_json(await _read_json(request), limits)
    if ctype == "application/x-www-form-urlencoded":
        form = await request.post()
        return Submission(fields={k: v for k, v in form.items() if isinstance(v, str)})
    if ctype == "multipart/form-data":
        return await _from_multipart(request, limits)
    raise ApiError(415, "unsupported_media_type", "请以 JSON 或表单（multipart/form-data）格式提交")


async def _read_json(request: web.Request) -> Any:
    try:
        raw = await request.read()
        return json.loads(raw.decode("utf-8"))
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "payload_too_large", "提交的内容过大") from None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_json", "请求内容不是有效的 UTF-8 JSON") from None


def _from_json(body: Any, limits: UploadLimits) -> Submission:
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "请求内容须为 JSON 对象")
    raw_attachments = body.pop("attachments", None) or []
    if not isinstance(raw_attachments, list):
        raise ApiError(422, "validation_failed", "附件格式不正确", [{"field": "attachments", "code": "invalid_attachments", "message": "附件须为列表"}])
    if len(raw_attachments) > limits.count:
        raise limits.too_many()
    uploads, total = [], 0
    for item in raw_attachments:
        if not isinstance(item, dict) or not isinstance(item.get("content_base64"), str):
            raise ApiError(422, "validation_failed", "附件格式不正确", [{"field": "attachments", "code": "invalid_attachments", "message": "每个附件须包含 content_base64"}])
        if len(item["content_base64"]) > limits.per_file * 4 // 3 + 4:
            raise limits.too_large()
        try:
            data = base64.b64decode(item["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(422, "validation_failed", "附件内容不是有效的 base64", [{"field": "attachments", "code": "invalid_base64", "message": "附件内容不是有效的 base64"}]) from None
        total += len(data)
        if total > limits.total:
            raise limits.total_too_large()
        filename = item.get("filename")
        uploads.append(check_upload(data, filename if isinstance(filename, str) else None))
    return Submission(fields=body, uploads=uploads)


async def _from_multipart(request: web.Request, limits: UploadLimits) -> Submission:
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError):
        raise ApiError(400, "bad_request", "表单格式不正确") from None
    fields: dict[str, Any] = {}
    uploads: list[Upload] = []
    total = 0
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or not part.name:
                continue
            if part.filename is not None or part.name == "attachments":
                data = await _read_part(part, limits.per_file, limits.too_large)
                if not data and not part.filename:
                    continue  # the browser's "no file chosen"
                if not data:
                    continue
                if len(uploads) >= limits.count:
                    raise limits.too_many()
                total += len(data)
                if total > limits.total:
                    raise limits.total_too_large()
                uploads.append(check_upload(data, part.filename))
            else:
                raw = await _read_part(part, TEXT_FIELD_MAX_BYTES, lambda: ApiError(413, "payload_too_large", f"字段 {part.name} 内容过长"))
                try:
                    fields[part.name] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise ApiError(400, "invalid_encoding", "表单内容须为 UTF-8 编码") from None
    except (ValueError, BadHttpMessage):  # e.g. a part header with control characters
        raise ApiError(400, "bad_request", "表单格式不正确") from None
    return Submission(fields=fields, uploads=uploads)


async def _read_part(part: BodyPartReader, limit: int, error: Any) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise error()
        chunks.append(chunk)
    return b"".join(chunks)
