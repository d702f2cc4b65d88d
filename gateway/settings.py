"""Settings, read once from the environment. Every variable is documented in the README."""
from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _env_float(name: str, default: float) -> float:
    return float(_env(name, str(default)))


def _env_bool(name: str, default: bool) -> bool:
    return _env(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    redis_url: str | None = None
    instance_id: str = field(default_factory=lambda: f"gw-{secrets.token_hex(3)}")
    ticket_prefix: str = "BJ"
    timezone: str = "Asia/Shanghai"
    cookie_secure: bool = False
    session_ttl_seconds: int = 12 * 3600
    # Core case system
    case_system_url: str | None = None
    case_system_secret: str = ""
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
    partner_directory_seed: Path | None = None  # None: channels/partner/data/partners.yaml
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
        d = cls()
        return cls(
            host=_env("HOTLINE_HOST", d.host),
            port=_env_int("HOTLINE_PORT", d.port),
            data_dir=Path(_env("HOTLINE_DATA_DIR", str(d.data_dir))),
            redis_url=os.environ.get("REDIS_URL") or None,
            instance_id=_env("HOTLINE_INSTANCE_ID", d.instance_id),
            ticket_prefix=_env("HOTLINE_TICKET_PREFIX", d.ticket_prefix),
            cookie_secure=_env_bool("HOTLINE_COOKIE_SECURE", d.cookie_secure),
            session_ttl_seconds=_env_int("HOTLINE_SESSION_TTL_SECONDS", d.session_ttl_seconds),
            case_system_url=(os.environ.get("CASE_SYSTEM_URL") or None),
            case_system_secret=_env("CASE_SYSTEM_SECRET", ""),
            case_system_timeout_seconds=_env_float("HOTLINE_CASE_SYSTEM_TIMEOUT_SECONDS", d.case_system_timeout_seconds),
            outbox_retry_horizon_seconds=_env_float("HOTLINE_OUTBOX_RETRY_HORIZON_SECONDS", d.outbox_retry_horizon_seconds),
            outbox_backoff_base_seconds=_env_float("HOTLINE_OUTBOX_BACKOFF_BASE_SECONDS", d.outbox_backoff_base_seconds),
            outbox_backoff_cap_seconds=_env_float("HOTLINE_OUTBOX_BACKOFF_CAP_SECONDS", d.outbox_backoff_cap_seconds),
            outbox_claim_idle_seconds=_env_float("HOTLINE_OUTBOX_CLAIM_IDLE_SECONDS", d.outbox_claim_idle_seconds),
            outbox_concurrency=_env_int("HOTLINE_OUTBOX_CONCURRENCY", d.outbox_concurrency),
            ready_max_outbox_lag=_env_int("HOTLINE_READY_MAX_OUTBOX_LAG", d.ready_max_outbox_lag),
            rate_limit_ip_per_hour=_env_int("HOTLINE_RATE_LIMIT_IP_PER_HOUR", d.rate_limit_ip_per_hour),
            rate_limit_phone_per_day=_env_int("HOTLINE_RATE_LIMIT_PHONE_PER_DAY", d.rate_limit_phone_per_day),
            trusted_proxies=_env("HOTLINE_TRUSTED_PROXIES", d.trusted_proxies),
            login_failures_per_user=_env_int("HOTLINE_LOGIN_FAILURES_PER_USER", d.login_failures_per_user),
            login_failures_per_address=_env_int("HOTLINE_LOGIN_FAILURES_PER_ADDRESS", d.login_failures_per_address),
            login_lockout_seconds=_env_int("HOTLINE_LOGIN_LOCKOUT_SECONDS", d.login_lockout_seconds),
            attachment_max_bytes=_env_int("HOTLINE_ATTACHMENT_MAX_BYTES", d.attachment_max_bytes),
            attachments_max_total_bytes=_env_int("HOTLINE_ATTACHMENTS_MAX_TOTAL_BYTES", d.attachments_max_total_bytes),
            attachments_max_count=_env_int("HOTLINE_ATTACHMENTS_MAX_COUNT", d.attachments_max_count),
            log_level=_env("HOTLINE_LOG_LEVEL", d.log_level),
            workers=_env("HOTLINE_WORKERS", d.workers),
            kb_seed=_env_bool("HOTLINE_KB_SEED", d.kb_seed),
            phone=_env_bool("HOTLINE_PHONE", d.phone),
            ami_host=_env("HOTLINE_AMI_HOST", d.ami_host),
            ami_port=_env_int("HOTLINE_AMI_PORT", d.ami_port),
            ami_username=_env("HOTLINE_AMI_USERNAME", d.ami_username),
            ami_secret=os.environ.get("HOTLINE_AMI_SECRET") or None,
            ami_auth=_env("HOTLINE_AMI_AUTH", d.ami_auth),
            ami_reconnect_max_seconds=_env_float("HOTLINE_AMI_RECONNECT_MAX_SECONDS", d.ami_reconnect_max_seconds),
            audiosocket_listen=_env("HOTLINE_AUDIOSOCKET_LISTEN", d.audiosocket_listen),
            audiosocket_advertise=os.environ.get("HOTLINE_AUDIOSOCKET_ADVERTISE") or None,
            audiosocket_allow=_env("HOTLINE_AUDIOSOCKET_ALLOW", d.audiosocket_allow),
            audiosocket_slin_rate=_env_int("HOTLINE_AUDIOSOCKET_SLIN_RATE", d.audiosocket_slin_rate),
            phone_agents=_env("HOTLINE_PHONE_AGENTS", d.phone_agents),
            phone_inbound_contexts=_env("HOTLINE_PHONE_INBOUND_CONTEXTS", d.phone_inbound_contexts),
            vosk_model=Path(os.environ["HOTLINE_VOSK_MODEL"]) if os.environ.get("HOTLINE_VOSK_MODEL") else None,
            speech_workers=_env_int("HOTLINE_SPEECH_WORKERS", d.speech_workers),
            speech_lag_threshold_seconds=_env_float("HOTLINE_SPEECH_LAG_THRESHOLD_SECONDS", d.speech_lag_threshold_seconds),
            speech_partial_interval_seconds=_env_float("HOTLINE_SPEECH_PARTIAL_INTERVAL_SECONDS", d.speech_partial_interval_seconds),
            wechat_accounts=_env("HOTLINE_WECHAT_ACCOUNTS", d.wechat_accounts),
            wechat_api_base=_env("HOTLINE_WECHAT_API_BASE", d.wechat_api_base),
            wechat_max_body_bytes=_env_int("HOTLINE_WECHAT_MAX_BODY_BYTES", d.wechat_max_body_bytes),
            wechat_reply_budget_seconds=_env_float("HOTLINE_WECHAT_REPLY_BUDGET_SECONDS", d.wechat_reply_budget_seconds),
            wechat_draft_sweep_seconds=_env_float("HOTLINE_WECHAT_DRAFT_SWEEP_SECONDS", d.wechat_draft_sweep_seconds),
            video=_env_bool("HOTLINE_VIDEO", d.video),
            video_max_sessions=_env_int("HOTLINE_VIDEO_MAX_SESSIONS", d.video_max_sessions),
            video_max_session_seconds=_env_float("HOTLINE_VIDEO_MAX_SESSION_SECONDS", d.video_max_session_seconds),
            video_queue_timeout_seconds=_env_float("HOTLINE_VIDEO_QUEUE_TIMEOUT_SECONDS", d.video_queue_timeout_seconds),
            video_media_timeout_seconds=_env_float("HOTLINE_VIDEO_MEDIA_TIMEOUT_SECONDS", d.video_media_timeout_seconds),
            video_max_width=_env_int("HOTLINE_VIDEO_MAX_WIDTH", d.video_max_width),
            video_max_height=_env_int("HOTLINE_VIDEO_MAX_HEIGHT", d.video_max_height),
            video_max_framerate=_env_int("HOTLINE_VIDEO_MAX_FRAMERATE", d.video_max_framerate),
            video_max_bitrate_kbps=_env_int("HOTLINE_VIDEO_MAX_BITRATE_KBPS", d.video_max_bitrate_kbps),
            video_ice_servers=_env("HOTLINE_VIDEO_ICE_SERVERS", d.video_ice_servers),
            video_ice_username=_env("HOTLINE_VIDEO_ICE_USERNAME", d.video_ice_username),
            video_ice_credential=_env("HOTLINE_VIDEO_ICE_CREDENTIAL", d.video_ice_credential),
            video_ice_addresses=_env("HOTLINE_VIDEO_ICE_ADDRESSES", d.video_ice_addresses),
            partner_self=_env("HOTLINE_PARTNER_SELF", d.partner_self),
            partner_keys=_env("HOTLINE_PARTNER_KEYS", d.partner_keys),
            partner_directory_seed=Path(os.environ["HOTLINE_PARTNER_DIRECTORY"]) if os.environ.get("HOTLINE_PARTNER_DIRECTORY") else None,
            partner_timeout_seconds=_env_float("HOTLINE_PARTNER_TIMEOUT_SECONDS", d.partner_timeout_seconds),
            partner_max_body_bytes=_env_int("HOTLINE_PARTNER_MAX_BODY_BYTES", d.partner_max_body_bytes),
            partner_link_ttl_seconds=_env_int("HOTLINE_PARTNER_LINK_TTL_SECONDS", d.partner_link_ttl_seconds),
            nlu=_env("HOTLINE_NLU", d.nlu),
            rasa_url=_env("HOTLINE_RASA_URL", d.rasa_url),
            rasa_timeout_seconds=_env_float("HOTLINE_RASA_TIMEOUT_SECONDS", d.rasa_timeout_seconds),
            rasa_retry_seconds=_env_float("HOTLINE_RASA_RETRY_SECONDS", d.rasa_retry_seconds),
            rasa_action_token=os.environ.get("HOTLINE_RASA_ACTION_TOKEN") or None,
            rasa_emergency_guard=_env_bool("HOTLINE_RASA_EMERGENCY_GUARD", d.rasa_emergency_guard),
        )

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
