"""Who a request comes from, and which hosts a loopback hub answers to.

The client address is the peer's, or, when the peer is a trusted proxy, the last hop that proxy
added to ``X-Forwarded-For``; IPv6 clients count by their /64, which one host commonly owns
whole.  Loopback clients that are not trusted proxies are exempt.  A hub listening on a loopback
address serves only a ``Host`` that is a loopback name or address or named by ``--allow-host``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(text: str) -> Address | None:
    """An address as a peer or a proxy writes it (IPv6 may be bracketed, IPv4 may carry a port)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def client_address(
    peer: str | None, forwarded: Iterable[str], trusted: tuple[Network, ...]
) -> str | None:
    """The key a request counts under; ``None`` for an exempt loopback client.

    ``forwarded`` holds the ``X-Forwarded-For`` headers; only a trusted proxy's are read, and only
    their last hop, the one that proxy added: whatever a client wrote before it is not evidence.
    """
    ip = _ip(peer or "")
    if ip is None:
        return None  # a Unix socket: local by construction
    if any(ip in net for net in trusted):
        hops = [hop for header in forwarded for hop in header.split(",") if hop.strip()]
        if not hops:
            return _key(ip)
        last = _ip(hops[-1])
        if last is None:
            return hops[-1].strip().lower()[:64]
        ip = last
        if any(ip in net for net in trusted):
            return _key(ip)
    return None if ip.is_loopback else _key(ip)


def _key(ip: Address) -> str:
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def loopback_bound(host: str) -> bool:
    """Whether ``--host`` is a loopback address or name, which makes the Host check apply."""
    return _loopback_name(host.strip().strip("[]").lower())


def _loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a ``Host`` header names a loopback host or one of ``allowed`` (port ignored).

    A request without ``Host`` is served: every browser sends one, so it is no rebinding.
    """
    if header is None:
        return True
    host = header.strip().lower()
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else ""
    else:
        name = host.rpartition(":")[0] if host.count(":") == 1 else host
    name = name.rstrip(".")
    return bool(name) and (_loopback_name(name) or name in allowed or host in allowed)
