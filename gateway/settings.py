"""Settings, read once from the environment. Each is declared once, here: its default, and its
variable HOTLINE_<NAME> unless a field names another. Every variable is in the README's table."""
from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints


def env_name(f: Field[Any]) -> str | None:
    """The environment variable of a setting: HOTLINE_<NAME> unless the field says otherwise
    (`metadata={"env": ...}`; None: not read from the environment)."""
    return f.metadata["env"] if "env" in f.metadata else f"HOTLINE_{f.name.upper()}"


def _named(env: str | None, default: Any) -> Any:
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
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    redis_url: str | None = _named("REDIS_URL", None)
    instance_id: str = field(default_factory=lambda: f"gw-{secrets.token_hex(3)}")
    ticket_prefix: str = "BJ"
    timezone: str = _named(None, "Asia/Shanghai")  # the hotline's clock; not configurable
    cookie_secure: bool = False
    session_ttl_seconds: int = 12 * 3600
    # Core case system
    case_system_url: str | None = _named("CASE_SYSTEM_URL", None)
    case_system_secret: str = _named("CASE_SYSTEM_SECRET", "")
    case_system_timeout_seconds: float = 10.0
    # Outbox
    outbox_retry_horizon_seconds: float = 24 * 3600
    outbox_backoff_base_seconds: float = 1.0
    outbox_backoff_cap_seconds: float = 300.0
    outbox_claim_idle_seconds: float = 30.0
    outbox_concurrency: int = 16
    ready_max_outbox_lag: int = 10_000
    # Citizen portal limits
    rate_limit_ip_per_hour: int = 30
    rate_limit_phone_per_day: int = 10
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
    # Phone channel (Asterisk AMI + AudioSocket); "off" disables it.
    phone: bool = True
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "hotline"
    ami_secret: str | None = None  # None: a development secret kept in the data directory
    ami_auth: str = "md5"  # md5 (challenge) or plain
    ami_reconnect_max_seconds: float = 10.0
    audiosocket_listen: str = "127.0.0.1:9092"
    audiosocket_advertise: str | None = None  # what Asterisk dials; defaults to the listen address
    audiosocket_allow: str = "127.0.0.1,::1"  # peers allowed to connect (AudioSocket has no auth)
    audiosocket_slin_rate: int = 8000  # rate of kind 0x10 frames (older Asterisk labels every rate 0x10)
    phone_agents: str = ""  # interface or extension = desk user, comma separated
    phone_inbound_contexts: str = "from-pstn,from-trunk"
    vosk_model: Path | None = None  # None: speech.model.default_model_dir()
    speech_workers: int = 0  # decoding threads; 0 = one per core
    speech_lag_threshold_seconds: float = 1.0
    speech_partial_interval_seconds: float = 0.25
    # WeChat official accounts: names; each reads HOTLINE_WECHAT_<NAME>_TOKEN/_APPID/_AES_KEY/_SECRET.
    wechat_accounts: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_max_body_bytes: int = 64 * 1024
    wechat_reply_budget_seconds: float = 3.0  # WeChat waits 5 s; past this the answer goes as a 客服消息
    wechat_draft_sweep_seconds: float = 60.0  # how often abandoned 我要反映 drafts are looked for and closed
    # Video (sign-language) channel: WebRTC media through aiortc in this instance.
    video: bool = True
    video_max_sessions: int = 8  # concurrent sessions, queued or connected, across all instances
    video_max_session_seconds: float = 1800.0  # from the agent's answer to the forced end
    video_queue_timeout_seconds: float = 120.0  # then the page offers text chat, a callback or staying
    video_media_timeout_seconds: float = 10.0  # no media from the citizen this long = disconnected
    video_max_width: int = 640
    video_max_height: int = 480
    video_max_framerate: int = 15
    video_max_bitrate_kbps: int = 800  # per direction; also the recording's video bitrate
    video_ice_servers: str = ""  # STUN/TURN URLs, comma separated (empty: host candidates only)
    video_ice_username: str = ""
    video_ice_credential: str = ""
    video_ice_addresses: str = ""  # only advertise these local addresses in SDP answers (empty: all)
    # Jing-Jin-Ji partner hotlines: this hotline's id in the directory, and the shared HMAC keys
    # as `key_id=secret,...` (never in the directory itself).
    partner_self: str = "beijing"
    partner_keys: str = ""
    partner_directory_seed: Path | None = _named("HOTLINE_PARTNER_DIRECTORY", None)  # None: channels/partner/data/partners.yaml
    partner_timeout_seconds: float = 10.0
    partner_max_body_bytes: int = 2 * 1024 * 1024
    partner_link_ttl_seconds: int = 7 * 24 * 3600  # attachment links in an envelope expire after this
    # Which engine decides: "embedded" (bot/decision.py) or "rasa" (a Rasa server, whose custom
    # actions call back to /rasa/actions; the embedded engine decides when Rasa is slow or down).
    nlu: str = "embedded"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 1.5
    rasa_retry_seconds: float = 5.0  # after a failure, skip Rasa this long instead of waiting on it per message
    rasa_action_token: str | None = None  # None: the action endpoint accepts loopback peers only
    rasa_emergency_guard: bool = True  # the lexicon's emergency cues decide before Rasa is asked

    @classmethod
    def from_env(cls) -> "Settings":
        """Each field from its variable (`env_name`); unset or empty keeps the default."""
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = env_name(f)
            raw = os.environ.get(name) if name else None
            if raw is not None and raw != "":
                values[f.name] = _parse(hints[f.name], raw)
        return cls(**values)

    def __post_init__(self) -> None:
        if self.workers not in {"process", "inline", "off"}:
            raise ValueError("HOTLINE_WORKERS must be process, inline or off")
        if self.ami_auth not in {"md5", "plain"}:
            raise ValueError("HOTLINE_AMI_AUTH must be md5 or plain")
        if self.nlu not in {"embedded", "rasa"}:
            raise ValueError("HOTLINE_NLU must be embedded or rasa")
        try:
            [ipaddress.ip_network(part.strip(), strict=False) for part in self.trusted_proxies.split(",") if part.strip()]
        except ValueError as exc:
            raise ValueError(f"HOTLINE_TRUSTED_PROXIES must be IP addresses or CIDR networks, comma separated: {exc}") from None

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def video_recording_dir(self) -> Path:
        """Recordings in progress; each moves into the blob store when its session ends."""
        return self.data_dir / "video-recordings"
