"""Reading a request or response body with a size limit enforced while reading (a declared
Content-Length is checked first, but a lying or absent one — chunked framing — cannot get past
the limit: nothing beyond `limit` bytes is ever buffered)."""
from __future__ import annotations

from aiohttp import StreamReader, web

from gateway.errors import ApiError

JSON_MAX_BYTES = 1024 * 1024  # every JSON API except the citizen request (whose attachments may be base64)


class TooLarge(Exception):
    pass


def human_size(n: int) -> str:
    """20971520 → 20MB, 1536 → 1.5KB: limits as people read them."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return f"{n}字节"


async def read_limited(content: StreamReader, declared: int | None, limit: int, chunk: int = 65536) -> bytes:
    """The whole body; raises TooLarge as soon as it passes `limit` bytes."""
    if declared is not None and declared > limit:
        raise TooLarge(declared)
    data = bytearray()
    async for piece in content.iter_chunked(chunk):
        data += piece
        if len(data) > limit:
            raise TooLarge(len(data))
    return bytes(data)


def too_large(limit: int, code: str = "payload_too_large", message: str | None = None) -> ApiError:
    return ApiError(413, code, message or f"提交的内容过大（不能超过{human_size(limit)}）")


async def read_request(request: web.Request, limit: int = JSON_MAX_BYTES, code: str = "payload_too_large",
                       message: str | None = None) -> bytes:
    """A request body of at most `limit` bytes, whatever its framing; 413 `code` beyond."""
    try:
        return await read_limited(request.content, request.content_length, limit)
    except TooLarge:
        raise too_large(limit, code, message) from None
