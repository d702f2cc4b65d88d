"""AMI credentials and AudioSocket addresses from the settings."""
from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from channels.phone.ami import AmiConfig
from channels.phone.settings import PhoneSettings

DEV_SECRET_FILE = "ami-dev-secret"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dev_secret(data_dir: Path) -> str:
    """A per-checkout secret for an AMI peer on this machine (`hotline simulate-call`), so no
    fixed password ships in the code. Both commands read the same file."""
    path = data_dir / DEV_SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(18))
    return path.read_text().strip()


def ami_config(settings: PhoneSettings, data_dir: Path) -> AmiConfig:
    secret = settings.ami_secret
    if secret is None:
        if not _loopback(settings.ami_host):
            raise ValueError("HOTLINE_AMI_SECRET must be set when Asterisk is not on this machine")
        secret = dev_secret(data_dir)
    return AmiConfig(
        host=settings.ami_host, port=settings.ami_port, username=settings.ami_username, secret=secret,
        auth="plain" if settings.ami_auth == "plain" else "md5", reconnect_max_seconds=settings.ami_reconnect_max_seconds,
    )


def audiosocket_allow(settings: PhoneSettings) -> list[str]:
    """Loopback and Asterisk's own address are always allowed."""
    allowed = [a.strip() for a in settings.audiosocket_allow.split(",") if a.strip()]
    try:
        allowed.append(str(ipaddress.ip_address(settings.ami_host)))
    except ValueError:
        pass  # a host name: list its address in HOTLINE_AUDIOSOCKET_ALLOW
    return allowed
