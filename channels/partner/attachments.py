"""Fetching a transfer's attachments from the sender's signed links into our blob store.

Only links on the sender's own partner API are followed (a link elsewhere would let a partner
make us fetch any address), each is size-limited while reading and checked against the
declared sha256. A link that fails leaves a note on the ticket instead of failing the transfer:
the case matters more than one picture, and the link stays valid for a while."""
from __future__ import annotations

import asyncio
import hashlib

import aiohttp

from channels.partner.directory import Partner
from channels.partner.envelope import EnvelopeAttachment
from channels.partner.signing import blob_path
from gateway.blobs import BlobStore
from gateway.bodies import TooLarge, read_limited
from gateway.clock import beijing_time_text
from gateway.ticket import Attachment

FETCH_TIMEOUT = aiohttp.ClientTimeout(total=15)


async def fetch_attachments(items: list[EnvelopeAttachment], origin: Partner, blobs: BlobStore, max_bytes: int) -> tuple[list[Attachment], list[str]]:
    """(stored attachments, notes about the ones that could not be fetched)."""
    stored: list[Attachment] = []
    notes: list[str] = []
    if not items:
        return stored, notes
    async with aiohttp.ClientSession(timeout=FETCH_TIMEOUT) as http:
        for item in items:
            name = item.filename or item.sha256[:12]
            problem = await _fetch_one(http, item, origin, blobs, max_bytes)
            if problem is None:
                stored.append(Attachment(kind=item.kind, sha256=item.sha256, size=item.size, mime=item.mime,
                                         filename=item.filename, blob=f"blob:sha256:{item.sha256}"))
            else:
                notes.append(f"附件“{name}”未能取回（{problem}），可在 {beijing_time_text(item.expires_at)} 前通过对方链接获取：{item.url}")
    return stored, notes


async def _fetch_one(http: aiohttp.ClientSession, item: EnvelopeAttachment, origin: Partner, blobs: BlobStore, max_bytes: int) -> str | None:
    if not item.url.startswith(origin.base + blob_path(item.sha256) + "?"):
        return "链接不在对方热线的接口地址下，未访问"
    if item.size > max_bytes:
        return "文件超过大小限制"
    try:
        async with http.get(item.url, allow_redirects=False) as resp:
            if resp.status != 200:
                return f"对方返回 HTTP {resp.status}"
            data = await read_limited(resp.content, resp.content_length, max_bytes)
    except TooLarge:
        return "文件超过大小限制"
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return f"网络错误 {type(exc).__name__}"
    if hashlib.sha256(data).hexdigest() != item.sha256 or len(data) != item.size:
        return "文件校验值不符"
    blobs.put(data)
    return None
