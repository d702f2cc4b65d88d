"""Settings, read once from the environment. Each is declared once: its default, and its variable
HOTLINE_<NAME> unless a field names another. The kernel's are here; a channel declares its own in
its `settings.py` (a `SettingsSection`), which the composition root adds to `Settings.sections`.
Every variable is in the README's table."""
from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Iterable
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints


def env_name(f: Field[Any]) -> str | None:
    """The environment variable of a setting: HOTLINE_<NAME> unless the field says otherwise
    (`metadata={"env": ...}`; None: not read from the environment)."""
    return f.metadata["env"] if "env" in f.metadata else f"HOTLINE_{f.name.upper()}"


def named(env: str | None, default: Any) -> Any:
    """A field read from `env` instead of HOTLINE_<NAME> (None: not read from the environment)."""
    return field(default=default, metadata={"env": env})


def _parse(kind: Any, raw: str) -> Any:
    """A variable's text as the field's type (`X | None` reads as X: empty means the default)."""
    options = [k for k in get_args(kind) if k is not type(None)] if get_origin(kind) in (UnionType, Union) else [kind]
    target = options[0]
    if target is bool:
        return raw.lower() in {"1", "true", "yes", "on"}
    if target in (int, float, Path, str):
        return target(raw)
    raise TypeError(f"no parser for {kind}")


@dataclass(frozen=True)
class SettingsSection:
    """Base of a channel's settings: a frozen dataclass whose fields are read like the kernel's
    (HOTLINE_<NAME>, or the name given with `named`). Field names are unique across sections."""


Section = TypeVar("Section", bound=SettingsSection)
Declared = TypeVar("Declared")


def read_env(kind: type[Declared], **given: Any) -> Declared:
    """A settings dataclass with each field from its variable (`env_name`); unset or empty keeps
    the default."""
    hints = get_type_hints(kind)
    values: dict[str, Any] = dict(given)
    for f in fields(kind):  # type: ignore[arg-type]  # kind is a dataclass; TypeVar can't say so
        name = env_name(f)
        raw = os.environ.get(name) if name else None
        if raw is not None and raw != "":
            values[f.name] = _parse(hints[f.name], raw)
    return kind(**values)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    redis_url: str | None = named("REDIS_URL", None)
    # Redis behind Sentinel instead of one URL: the sentinels (host:port, comma separated), the
    # name they monitor the primary under, and the password of the primary and its replicas.
    redis_sentinels: str = named("REDIS_SENTINELS", "")
    redis_sentinel_master: str = named("REDIS_SENTINEL_MASTER", "hotline")
    redis_password: str | None = named("REDIS_PASSWORD", None)
    # A person is told "received" only after the write reached this many replicas (WAIT); 0: as
    # soon as the primary has it (a failover can lose what the replicas had not received yet).
    redis_min_replicas: int = 0
    redis_replica_timeout_seconds: float = 1.0
    instance_id: str = field(default_factory=lambda: f"gw-{secrets.token_hex(3)}")
    ticket_prefix: str = "BJ"
    timezone: str = named(None, "Asia/Shanghai")  # the hotline's clock; not configurable
    cookie_secure: bool = False
    session_ttl_seconds: int = 12 * 3600
    # Core case system
    case_system_url: str | None = named("CASE_SYSTEM_URL", None)
    case_system_secret: str = named("CASE_SYSTEM_SECRET", "")
    case_system_timeout_seconds: float = 10.0
    # Outbox
    outbox_retry_horizon_seconds: float = 24 * 3600
    outbox_backoff_base_seconds: float = 1.0
    outbox_backoff_cap_seconds: float = 300.0
    outbox_claim_idle_seconds: float = 30.0
    outbox_concurrency: int = 16
    ready_max_outbox_lag: int = 10_000
    # 热点: this many different citizens on one topic in one street (or district) within the window
    hotspot_min_citizens: int = 5
    hotspot_window_minutes: int = 120
    # Citizen portal limits
    rate_limit_ip_per_hour: int = 30
    # Reverse proxies whose X-Forwarded-For is believed (IPs/CIDRs, comma separated; empty: none).
    trusted_proxies: str = ""
    # Desk login lock-outs (failures only): per user name from any address, per client address
    # across user names; either locks for login_lockout_seconds after the failure that reaches it.
    login_failures_per_user: int = 10
    login_failures_per_address: int = 30
    login_lockout_seconds: int = 15 * 60
    attachment_max_bytes: int = 20 * 1024 * 1024
    attachments_max_total_bytes: int = 50 * 1024 * 1024
    attachments_max_count: int = 5
    log_level: str = "INFO"
    # Where router and outbox run: "process" (a supervised child of the web process), "inline"
    # (inside it) or "off" (elsewhere: `hotline worker`).
    workers: str = "process"
    # Load the sample knowledge base on the first start of an empty one.
    kb_seed: bool = True
    # Which engine decides: "embedded" (bot/decision.py) or "rasa" (a Rasa server, whose custom
    # actions call back to /rasa/actions; the embedded engine decides when Rasa is slow or down).
    nlu: str = "embedded"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 1.5
    rasa_retry_seconds: float = 5.0  # after a failure, skip Rasa this long instead of waiting on it per message
    rasa_action_token: str | None = None  # None: the action endpoint accepts loopback peers only
    rasa_emergency_guard: bool = True  # the lexicon's emergency cues decide before Rasa is asked

    sections: tuple[SettingsSection, ...] = named(None, ())
    """The channels' sections (`section()` finds one; one not here reads as its defaults)."""

    @classmethod
    def from_env(cls, sections: Iterable[type[SettingsSection]] = ()) -> "Settings":
        """The kernel's fields and each given section from the environment."""
        return read_env(cls, sections=tuple(read_env(kind) for kind in sections))

    def section(self, kind: type[Section]) -> Section:
        for part in self.sections:
            if isinstance(part, kind):
                return part
        return kind()

    def with_values(self, **changes: Any) -> "Settings":
        """A copy with fields changed by name, wherever they are declared (kernel or section)."""
        own = {f.name for f in fields(self)}
        remaining = {name: value for name, value in changes.items() if name not in own}
        sections = []
        for part in self.sections:
            names = {f.name for f in fields(part)}
            mine = {name: remaining.pop(name) for name in list(remaining) if name in names}
            sections.append(replace(part, **mine))
        if remaining:
            raise TypeError(f"no such settings: {', '.join(sorted(remaining))}")
        return replace(self, **{name: value for name, value in changes.items() if name in own}, sections=tuple(sections))

    def __post_init__(self) -> None:
        if self.workers not in {"process", "inline", "off"}:
            raise ValueError("HOTLINE_WORKERS must be process, inline or off")
        if self.nlu not in {"embedded", "rasa"}:
            raise ValueError("HOTLINE_NLU must be embedded or rasa")
        if self.redis_url and self.redis_sentinels:
            raise ValueError("set REDIS_URL or REDIS_SENTINELS, not both")
        self.sentinel_addresses  # noqa: B018  # parsed once here, so a bad value stops start-up
        if self.redis_min_replicas < 0:
            raise ValueError("HOTLINE_REDIS_MIN_REPLICAS must be 0 or more")
        if self.hotspot_min_citizens < 2 or self.hotspot_window_minutes < 1:
            raise ValueError("HOTLINE_HOTSPOT_MIN_CITIZENS must be 2 or more and HOTLINE_HOTSPOT_WINDOW_MINUTES 1 or more")
        try:
            [ipaddress.ip_network(part.strip(), strict=False) for part in self.trusted_proxies.split(",") if part.strip()]
        except ValueError as exc:
            raise ValueError(f"HOTLINE_TRUSTED_PROXIES must be IP addresses or CIDR networks, comma separated: {exc}") from None

    @property
    def sentinel_addresses(self) -> tuple[tuple[str, int], ...]:
        """REDIS_SENTINELS as (host, port) pairs; `[::1]:26379` for IPv6."""
        pairs = []
        for part in (p.strip() for p in self.redis_sentinels.split(",")):
            if not part:
                continue
            host, _, port = part.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"REDIS_SENTINELS must be host:port, comma separated; got {part!r}")
            pairs.append((host.strip("[]"), int(port)))
        return tuple(pairs)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"
