"""Media types sniffed from content (magic numbers), never from a file name or a client's claim."""
from __future__ import annotations

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm"}


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes (at least 16), or None if unrecognised."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in {b"heic", b"heix", b"mif1", b"msf1", b"avif"}:
            return None  # HEIF stills: not accepted until they can be converted for the case system
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


def attachment_kind(mime: str) -> str:
    return "image" if mime in IMAGE_TYPES else "video" if mime in VIDEO_TYPES else "document"
