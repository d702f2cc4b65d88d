"""Which desk user sits at which phone: `HOTLINE_PHONE_AGENTS="PJSIP/1001=zhangsan,1002=lisi"`.

A key is an interface (`PJSIP/1001`), a bare extension (`1001`, matching any technology) or a
queue member name. Asterisk reports the agent by Interface and MemberName on queue events and
only by channel name elsewhere (direct dials, transfers), so all three are looked up.
"""
from __future__ import annotations

import re

from channels.phone.calls import channel_interface

_EXTENSION = re.compile(r"^[A-Za-z]+/([^@/;-]+)")


class AgentDirectory:
    def __init__(self, mapping: dict[str, str]) -> None:
        self.by_key = {k.strip().lower(): v.strip() for k, v in mapping.items() if k.strip() and v.strip()}
        self.interfaces = [k.strip() for k, v in mapping.items() if "/" in k and v.strip()]  # as written, e.g. PJSIP/1001

    @classmethod
    def parse(cls, spec: str) -> "AgentDirectory":
        mapping: dict[str, str] = {}
        for item in spec.split(","):
            if not item.strip():
                continue
            key, sep, user = item.partition("=")
            if not sep or not key.strip() or not user.strip():
                raise ValueError(f"HOTLINE_PHONE_AGENTS: '{item.strip()}' is not interface=user")
            mapping[key] = user
        return cls(mapping)

    def lookup(self, *, interface: str = "", member_name: str = "", channel: str = "") -> str | None:
        candidates = [interface, member_name]
        if channel:
            candidates.append(channel_interface(channel))
        for name in (interface, channel):
            match = _EXTENSION.match(name) if name else None
            if match:
                candidates.append(match.group(1))
        for key in candidates:
            user = self.by_key.get(key.lower()) if key else None
            if user:
                return user
        return None
