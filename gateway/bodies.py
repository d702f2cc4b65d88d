"""Reading a request or response body with a size limit enforced while reading (a declared
Content-Length is checked first, but a lying or absent one cannot get past the limit)."""
from __future__ import annotations

from aiohttp import StreamReader


class TooLarge(Exception):
    pass


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
