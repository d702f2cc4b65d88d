"""The web channel's settings (the citizen portal's own limits; per-address limits shared with
other channels are the kernel's `rate_limit_ip_per_hour`)."""
from __future__ import annotations

from dataclasses import dataclass

from gateway.settings import SettingsSection


@dataclass(frozen=True)
class WebSettings(SettingsSection):
    rate_limit_phone_per_day: int = 10  # portal requests per citizen phone number per day
