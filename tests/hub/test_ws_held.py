"""Frames held while a connection's own request is handled still count against its limits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, register

SLOW_CONSUMER = 1013


async def test_events_held_during_a_long_request_count_against_the_frame_limit(
    start_hub: HubFactory, clients: Clients, db_path: Path
) -> None:
    server = await start_hub(outbound_frames=50, outbound_bytes=1 << 30, rate=1e6, burst=10**6)
    ann = await clients.player(server, "ann")
    await ann.ok("subscribe", topic="lobby")
    tokens = [await register(server, f"p{i:03d}") for i in range(80)]
    # Another connection holds the database's write lock: ann's game cannot be stored yet, so
    # her request stays in hand (and what she is sent meanwhile is held) for up to 5 s.
    lock = sqlite3.connect(db_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        await ann.send("play", opponent="computer")
        await asyncio.sleep(0.2)
        for token in tokens:  # each player who comes publishes lobby events to ann
            await clients.player(server, "", token=token)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    code, _ = await ann.closed()
    assert code == SLOW_CONSUMER
