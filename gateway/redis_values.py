"""Redis replies as text. The clients are made without decode_responses (tickets, blobs and
scripts want bytes), so every reply that is text is decoded here, in one way."""
from __future__ import annotations

from typing import Any


def text(raw: Any) -> str:
    """A key, member, stream id or value as str (replies are bytes; str passes through)."""
    if isinstance(raw, bytes):
        return raw.decode()
    if isinstance(raw, str):
        return raw
    raise TypeError(f"not a Redis text reply: {type(raw).__name__}")


def text_fields(raw: Any) -> dict[str, str]:
    """A hash or a stream entry's fields as str → str."""
    return {text(k): text(v) for k, v in (raw or {}).items()}
