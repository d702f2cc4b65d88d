"""The phone channel's settings (Asterisk AMI, AudioSocket, live transcription)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.settings import SettingsSection


@dataclass(frozen=True)
class PhoneSettings(SettingsSection):
    """Asterisk AMI and AudioSocket; HOTLINE_PHONE=off disables the channel."""
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
    # Speech nodes (`hotline speech-node`; `hotline run` serves one in-process unless this is off).
    speech_local_node: bool = True
    speech_node_capacity: int = 0  # legs one node decodes at once; 0 = two per core
    speech_node_ttl_seconds: float = 3.0  # heartbeat lifetime: a dead node is noticed within this
    speech_caller_reserve: int = 1  # places kept for callers: an agent leg needs more free than this
    speech_node_http: str = "127.0.0.1:9093"  # a speech node's /healthz, /readyz and /metrics

    def __post_init__(self) -> None:
        if self.ami_auth not in {"md5", "plain"}:
            raise ValueError("HOTLINE_AMI_AUTH must be md5 or plain")
        if self.speech_node_ttl_seconds <= 0.3:
            raise ValueError("HOTLINE_SPEECH_NODE_TTL_SECONDS must be above 0.3")
