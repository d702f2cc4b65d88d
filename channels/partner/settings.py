"""The partner-hotline channel's settings."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.settings import SettingsSection, named


@dataclass(frozen=True)
class PartnerSettings(SettingsSection):
    """Jing-Jin-Ji partner hotlines: this hotline's id in the directory, and the shared HMAC keys
    as `key_id=secret,...` (never in the directory itself)."""
    partner_self: str = "beijing"
    partner_keys: str = ""
    partner_directory_seed: Path | None = named("HOTLINE_PARTNER_DIRECTORY", None)  # None: channels/partner/data/partners.yaml
    partner_timeout_seconds: float = 10.0
    partner_max_body_bytes: int = 2 * 1024 * 1024
    partner_link_ttl_seconds: int = 7 * 24 * 3600  # attachment links in an envelope expire after this
