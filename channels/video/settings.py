"""The sign-language video channel's settings."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.settings import SettingsSection


@dataclass(frozen=True)
class VideoSettings(SettingsSection):
    """WebRTC media through aiortc in this instance; HOTLINE_VIDEO=off disables the channel."""
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


def recording_dir(data_dir: Path) -> Path:
    """Recordings in progress; each moves into the blob store when its session ends."""
    return data_dir / "video-recordings"
