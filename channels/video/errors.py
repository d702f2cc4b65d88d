"""The video channel's refusals: an ApiError (HTTP status, machine code, Chinese message), also
carried across instances by the control requests (service.py)."""
from __future__ import annotations

from gateway.errors import ApiError


class VideoError(ApiError):
    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(status, code, message, headers={"Retry-After": str(retry_after)} if retry_after else None)
        self.retry_after = retry_after
