"""Ports for the servers the tests start (hub nodes, Redis, nginx, HAProxy).

Binding port 0 finds a free port in the kernel's ephemeral range, the range every outgoing
connection's local port comes from too, so between the test picking one and its server binding
it, a connection to PostgreSQL or Redis could take it ("Address already in use").  These come
from below that range, at random, each one bound once to see that nobody listens there, and never
the same twice in one test run.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 10_000  # below this, well-known and registered services


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


_HIGHEST = _ephemeral_low() - 1
_given: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now, outside the ephemeral range."""
    for _ in range(1000):
        port = random.randint(LOWEST, _HIGHEST)
        if port in _given:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError(f"no free port between {LOWEST} and {_HIGHEST}")
