"""The web channel's Redis names: its rate-limit buckets (stored by gateway/rate_limits.py under
gateway/keys.py's `rate:` prefix). It keeps no app state of its own: chat turns are triage's."""
from __future__ import annotations


def submissions_from(address: str) -> str:
    return f"ip:{address}"


def submissions_by(e164: str) -> str:
    return f"phone:{e164}"


def chat_from(address: str) -> str:
    return f"chat:{address}"


def tracking_from(address: str) -> str:
    return f"track:{address}"
