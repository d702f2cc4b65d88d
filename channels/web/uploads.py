"""Reading a citizen submission off the wire: JSON, urlencoded or multipart, with size limits
enforced while reading (413 as soon as a limit is crossed) and file types sniffed from content."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from gateway.bodies import human_size, read_request
from gateway.errors import ApiError
from gateway.json_io import loads
from gateway.media_types import IMAGE_TYPES, VIDEO_TYPES, sniff
from gateway.settings import Settings

# A form is read as a stream, part by part, and refused as soon as one of these is crossed, so a
# request holds at most this much text whatever its framing (chunked or not, lying or not).
TEXT_FIELD_MAX_BYTES = 16 * 1024  # one text field (a 2000-character description is ≤ 6 KB)
TEXT_TOTAL_MAX_BYTES = 64 * 1024  # all text fields together; also the whole urlencoded body
FORM_MAX_PARTS = 32  # the portal form has 9 fields and up to 5 files
PART_OVERHEAD_BYTES = 1024 * 1024  # boundaries and part headers, on top of files and text
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

    @property
    def json_body(self) -> int:
        """A JSON submission (files in base64) is read up to the same size as a form."""
        return self.total + PART_OVERHEAD_BYTES

    @property
    def form_body(self) -> int:
        return self.total + TEXT_TOTAL_MAX_BYTES + PART_OVERHEAD_BYTES


def too_many_fields() -> ApiError:
    return ApiError(422, "too_many_fields", f"表单字段过多（最多{FORM_MAX_PARTS}项）")


def text_too_large(name: str | None = None) -> ApiError:
    if name:
        return ApiError(413, "payload_too_large", f"字段 {name[:50]} 内容过长（不能超过{human_size(TEXT_FIELD_MAX_BYTES)}）")
    return ApiError(413, "payload_too_large", f"表单文字内容合计不能超过{human_size(TEXT_TOTAL_MAX_BYTES)}")


def check_upload(data: bytes, filename: str | None) -> Upload:
    mime = sniff(data[:32])
    if mime not in _ACCEPTED:
        raise ApiError(415, "unsupported_media_type", _TYPES_MESSAGE, [
            {"field": "attachments", "code": "unsupported_attachment_type", "message": _TYPES_MESSAGE}])
    return Upload(filename=(filename or None) and filename[-200:], data=data, mime=mime)


async def read_submission(request: web.Request, limits: UploadLimits) -> Submission:
    ctype = request.content_type
    if ctype == "application/json":
        if request.content_length is not None and request.content_length > limits.json_body:
            raise limits.total_too_large()
        return _from_json(loads(await read_request(request, limits.json_body)), limits)
    if ctype == "application/x-www-form-urlencoded":
        return _from_urlencoded(await read_request(request, TEXT_TOTAL_MAX_BYTES, message=text_too_large().message))
    if ctype == "multipart/form-data":
        if request.content_length is not None and request.content_length > limits.form_body:
            raise limits.total_too_large()
        return await _from_multipart(request, limits)
    raise ApiError(415, "unsupported_media_type", "请以 JSON 或表单（multipart/form-data）格式提交")


def _from_urlencoded(raw: bytes) -> Submission:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True,
                          encoding="utf-8", errors="strict", max_num_fields=FORM_MAX_PARTS)
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "表单内容须为 UTF-8 编码") from None
    except ValueError:  # more than max_num_fields
        raise too_many_fields() from None
    for name, value in pairs:
        if len(value.encode("utf-8")) > TEXT_FIELD_MAX_BYTES:
            raise text_too_large(name)
    return Submission(fields=dict(pairs))


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
    """Part by part, never holding more than the limits allow: at most FORM_MAX_PARTS parts,
    TEXT_FIELD_MAX_BYTES per text field and TEXT_TOTAL_MAX_BYTES of text in all, the attachment
    limits for files, and no more than `limits.form_body` bytes off the wire in all."""
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError):
        raise ApiError(400, "bad_request", "表单格式不正确") from None
    fields: dict[str, Any] = {}
    uploads: list[Upload] = []
    total = text_total = parts = 0

    def check_wire() -> None:
        # Whatever the framing: what came off the socket (boundaries, headers, skipped parts included).
        if request.content.total_bytes > limits.form_body:
            raise limits.total_too_large()

    try:
        while (part := await reader.next()) is not None:
            parts += 1
            if parts > FORM_MAX_PARTS:
                raise too_many_fields()
            check_wire()
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "bad_request", "表单格式不正确")  # a nested multipart
            if part.name and (part.filename is not None or part.name == "attachments"):
                data = await _read_part(part, limits.per_file, limits.too_large, check_wire)
                if not data:
                    continue  # the browser's "no file chosen"
                if len(uploads) >= limits.count:
                    raise limits.too_many()
                total += len(data)
                if total > limits.total:
                    raise limits.total_too_large()
                uploads.append(check_upload(data, part.filename))
                continue
            # A text field (or a nameless part, read within the same limits and dropped).
            room = TEXT_TOTAL_MAX_BYTES - text_total
            error = (lambda n=part.name: text_too_large(n)) if room >= TEXT_FIELD_MAX_BYTES else text_too_large
            raw = await _read_part(part, min(TEXT_FIELD_MAX_BYTES, room), error, check_wire)
            text_total += len(raw)
            if not part.name:
                continue
            try:
                fields[part.name] = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, "invalid_encoding", "表单内容须为 UTF-8 编码") from None
    except (ValueError, BadHttpMessage):  # e.g. a part header with control characters
        raise ApiError(400, "bad_request", "表单格式不正确") from None
    return Submission(fields=fields, uploads=uploads)


async def _read_part(part: BodyPartReader, limit: int, error: Any, check_wire: Any) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise error()
        check_wire()
        chunks.append(chunk)
    return b"".join(chunks)
