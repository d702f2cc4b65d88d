"""Structured JSON logs, with phone numbers and personal names masked wherever they appear."""
from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import Any

# Mobile numbers (optionally +86), and landlines with an area code.
_PHONE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1[3-9]\d)\d{4}(\d{4})(?!\d)|(?<!\d)(0\d{2,3})[\s-]?\d{3,4}(\d{4})(?!\d)")
_PERSONAL_FIELDS = {"name", "requester_name", "display_name_citizen"}
_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}


def mask_text(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return f"{m.group(1)}****{m.group(2)}"
        return f"{m.group(3)}-****{m.group(4)}"

    return _PHONE.sub(repl, text)


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1) if name else name


def _mask_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        return mask_name(value) if key in _PERSONAL_FIELDS else mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_value(key, v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = _mask_value(key, value)
        if record.exc_info:
            doc["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # our middleware logs requests
