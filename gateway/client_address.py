"""The citizen's (or agent's) address: what every rate limit keys on and every log line names.

Behind a reverse proxy the TCP peer is the proxy, so every citizen would share one bucket. Only
when the direct peer is one of HOTLINE_TRUSTED_PROXIES is `X-Forwarded-For` believed: its
addresses are read from the right (the end the proxies appended to) and the first one that is not
itself a trusted proxy is the client. A citizen can put anything at the left of that header, which
is why the left-most entry is never taken on its own.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

from gateway.app_keys import SETTINGS

CLIENT_ADDRESS = web.RequestKey("client_address", str)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=16)
def parse_networks(spec: str) -> tuple[Network, ...]:
    """`10.0.0.1, 172.16.0.0/12, ::1` as networks; raises ValueError on an entry that is neither."""
    networks = []
    for part in spec.split(","):
        part = part.strip()
        if part:
            networks.append(ipaddress.ip_network(part, strict=False))
    return tuple(networks)


def _address(text: str) -> Address | None:
    """An address as a proxy writes it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _trusted(addr: Address, networks: tuple[Network, ...]) -> bool:
    return any(addr.version == net.version and addr in net for net in networks)


def client_address_from(peer: str | None, forwarded_for: list[str], trusted_proxies: str) -> str:
    """The client's address given the direct peer, the X-Forwarded-For header values (in order)
    and the trusted-proxy setting. Plain function: the unit tests call it without a request."""
    peer_addr = _address(peer) if peer else None
    if peer_addr is None:
        return peer or "unknown"
    networks = parse_networks(trusted_proxies) if trusted_proxies else ()
    if not networks or not _trusted(peer_addr, networks):
        return str(peer_addr)
    hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
    last = peer_addr
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:
            break  # not an address: nothing to its left can be believed either
        if not _trusted(addr, networks):
            return str(addr)
        last = addr
    return str(last)


def client_address(request: web.BaseRequest) -> str:
    """The one answer to "who is this" for limits and logs (see the module docstring)."""
    cached = request.get(CLIENT_ADDRESS)
    if cached is not None:
        return cached
    settings = request.config_dict.get(SETTINGS) if isinstance(request, web.Request) else None
    trusted = settings.trusted_proxies if settings is not None else ""
    address = client_address_from(request.remote, request.headers.getall("X-Forwarded-For", []), trusted)
    request[CLIENT_ADDRESS] = address
    return address
