"""The ports the tests give their own servers (nodes, Redis, nginx, HAProxy).

A port found free by binding port 0 comes from the kernel's ephemeral range, the range it also
takes the local port of every outgoing connection from: between the test picking it and its
server binding it, a connection to PostgreSQL or Redis could take it, and the server failed with
"Address already in use" (seen once in a clean-clone run, a cluster node of
``test_player_topic.py``).  So the tests pick their servers' ports below that range.
"""

from __future__ import annotations

import socket
from pathlib import Path

from tests.ports import free_port


def ephemeral() -> range:
    """The kernel's range for the local ports of outgoing connections."""
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return range(int(low), int(high) + 1)


def test_a_free_port_is_outside_the_range_outgoing_connections_take_theirs_from() -> None:
    ports = [free_port() for _ in range(200)]
    taken = ephemeral()
    assert [p for p in ports if p in taken] == []
    assert len(set(ports)) == len(ports), "the same port given twice"
    for port in ports[:20]:  # nobody listens there
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
