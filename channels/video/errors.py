"""The video channel's refusals: HTTP status, machine code, Chinese message."""
from __future__ import annotations


class VideoError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after
