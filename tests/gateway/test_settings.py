"""Settings are declared once: each field's variable is read by from_env and is in the README."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from gateway.settings import Settings, env_name
from tests.support.paths import REPO

VARIABLES = {f.name: env_name(f) for f in fields(Settings)}


def test_every_variable_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [name for name in VARIABLES.values() if name and f"`{name}`" not in readme]
    assert missing == []


@pytest.mark.parametrize(("variable", "raw", "field", "expected"), [
    ("HOTLINE_PORT", "9000", "port", 9000),
    ("HOTLINE_PHONE", "off", "phone", False),
    ("HOTLINE_VIDEO", "yes", "video", True),
    ("HOTLINE_RASA_TIMEOUT_SECONDS", "2.5", "rasa_timeout_seconds", 2.5),
    ("HOTLINE_VOSK_MODEL", "/srv/model", "vosk_model", Path("/srv/model")),
    ("HOTLINE_PARTNER_DIRECTORY", "/etc/partners.yaml", "partner_directory_seed", Path("/etc/partners.yaml")),
    ("REDIS_URL", "redis://cache:6379/2", "redis_url", "redis://cache:6379/2"),
    ("CASE_SYSTEM_URL", "https://case.example", "case_system_url", "https://case.example"),
    ("HOTLINE_AMI_SECRET", "", "ami_secret", None),  # empty is unset
])
def test_a_variable_sets_its_field(monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, field: str, expected: object) -> None:
    monkeypatch.setenv(variable, raw)
    assert getattr(Settings.from_env(), field) == expected


def test_a_bad_value_is_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_WORKERS", "threads")
    with pytest.raises(ValueError, match="HOTLINE_WORKERS"):
        Settings.from_env()
