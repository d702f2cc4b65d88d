"""Settings are declared once: each field's variable is read by from_env and is in the README."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from channels.phone.settings import PhoneSettings
from gateway.settings import Settings, env_name
from server.registry import channels, settings_from_env
from tests.support.paths import REPO

SECTIONS = [c.settings for c in channels() if c.settings]
DECLARED = [f for kind in (Settings, *SECTIONS) for f in fields(kind)]
VARIABLES = {f.name: env_name(f) for f in DECLARED}


def _value(settings: Settings, name: str) -> object:
    part = next(p for p in (settings, *settings.sections) if name in {f.name for f in fields(p)})
    return getattr(part, name)


def test_every_registered_channel_has_its_section_and_names_are_unique() -> None:
    assert len(VARIABLES) == len(DECLARED)  # one name, one place
    assert {type(p) for p in settings_from_env().sections} == set(SECTIONS)


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
    ("REDIS_SENTINELS", "10.0.0.1:26379, [::1]:26380", "redis_sentinels", "10.0.0.1:26379, [::1]:26380"),
    ("HOTLINE_REDIS_MIN_REPLICAS", "1", "redis_min_replicas", 1),
    ("CASE_SYSTEM_URL", "https://case.example", "case_system_url", "https://case.example"),
    ("HOTLINE_AMI_SECRET", "", "ami_secret", None),  # empty is unset
])
def test_a_variable_sets_its_field(monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, field: str, expected: object) -> None:
    monkeypatch.setenv(variable, raw)
    assert _value(settings_from_env(), field) == expected


def test_a_bad_value_is_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_WORKERS", "threads")
    with pytest.raises(ValueError, match="HOTLINE_WORKERS"):
        Settings.from_env()


def test_a_bad_channel_value_is_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_AMI_AUTH", "sha1")
    with pytest.raises(ValueError, match="HOTLINE_AMI_AUTH"):
        settings_from_env()


def test_values_change_by_name_wherever_declared() -> None:
    settings = Settings(sections=(PhoneSettings(),)).with_values(port=9001, ami_port=6038)
    assert settings.port == 9001 and settings.section(PhoneSettings).ami_port == 6038
    with pytest.raises(TypeError, match="no_such_setting"):
        settings.with_values(no_such_setting=1)


def test_sentinels_are_read_as_host_port_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_SENTINELS", "10.0.0.1:26379, [::1]:26380,")
    assert Settings.from_env().sentinel_addresses == (("10.0.0.1", 26379), ("::1", 26380))


@pytest.mark.parametrize(("env", "message"), [
    ({"REDIS_SENTINELS": "10.0.0.1"}, "REDIS_SENTINELS"),
    ({"REDIS_SENTINELS": "10.0.0.1:26379", "REDIS_URL": "redis://cache:6379/0"}, "REDIS_URL or REDIS_SENTINELS"),
    ({"HOTLINE_REDIS_MIN_REPLICAS": "-1"}, "HOTLINE_REDIS_MIN_REPLICAS"),
])
def test_a_bad_redis_setting_stops_start_up(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        Settings.from_env()
