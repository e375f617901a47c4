"""The fair queue on a real hub: pools apart, nearest rating first, gaps that widen with waiting,
and the lobby's view of who waits (``Config.queue_step`` shortens the 5 s step)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from pathlib import Path

from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, Frame, Peer


def rate(db: Path, name: str, value: float) -> None:
    """Give a registered player an established rating, straight in the hub's database."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE players SET rating = ?, deviation = 60, rated = 20 WHERE name_key = ?",
            (value, name.casefold()),
        )


async def queue_event(lobby: Peer) -> Frame:
    """The lobby's next ``queue`` event."""
    return await lobby.event("lobby", "queue")


async def test_players_of_different_pools_are_never_paired_and_each_pool_shows(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(queue_step=0.05)
    lobby = await clients.lobby(server)
    ann, bob = await clients.player(server, "ann"), await clients.player(server, "bob")
    assert await ann.ok("play", opponent="*", best_of=3, rules="rps3") == {"queued": True}
    assert await bob.ok("play", opponent="*", best_of=5, rules="rps3") == {"queued": True}
    pools = [(await queue_event(lobby))["data"] for _ in range(2)]
    assert pools == [
        {"rules": "rps3", "best_of": 3, "waiting": 1},
        {"rules": "rps3", "best_of": 5, "waiting": 1},
    ]
    await asyncio.sleep(0.5)  # ten widening steps: pools never meet however wide the gaps
    snapshot = (await (await clients.spectator(server)).ok("subscribe", topic="lobby"))["snapshot"]
    assert snapshot["games"] == [] and snapshot["queue"] == pools
    assert await ann.ok("cancel") == {}
    assert (await queue_event(lobby))["data"] == {"rules": "rps3", "best_of": 3, "waiting": 0}


async def test_a_widening_gap_pairs_the_longest_waiter_with_the_nearest_rating(
    start_hub: HubFactory, clients: Clients, db_path: Path
) -> None:
    step = 0.5
    server = await start_hub(queue_step=step)
    lobby = await clients.lobby(server)
    ann, bob, cat = [await clients.player(server, n) for n in ("ann", "bob", "cat")]
    for name, value in (("ann", 1500), ("bob", 1700), ("cat", 1330)):
        rate(db_path, name, value)
    await ann.ok("play", opponent="*")
    queued = await queue_event(lobby)
    # bob is 200 from ann, cat 170: ann's gap admits neither for two steps, then both.
    assert await bob.ok("play", opponent="*") == {"queued": True}
    assert await cat.ok("play", opponent="*") == {"queued": True}
    assert [(await queue_event(lobby))["data"]["waiting"] for _ in range(2)] == [2, 3]
    started = (await ann.event("player:ann", "game_started"))["data"]
    assert started["players"] == ["ann", "cat"]
    began = datetime.fromisoformat(started["started"].replace("Z", "+00:00")).timestamp()
    assert began * 1000 - queued["ts"] >= 2 * step * 1000
    assert (await queue_event(lobby))["data"] == {"rules": "rps15", "best_of": 5, "waiting": 1}
    snapshot = (await (await clients.spectator(server)).ok("subscribe", topic="lobby"))["snapshot"]
    assert snapshot["queue"] == [{"rules": "rps15", "best_of": 5, "waiting": 1}]
    assert {"name": "bob", "status": "queued"} in snapshot["players"]


async def test_a_player_within_the_gap_is_paired_at_once(
    start_hub: HubFactory, clients: Clients, db_path: Path
) -> None:
    server = await start_hub(queue_step=60)
    ann, bob = await clients.player(server, "ann"), await clients.player(server, "bob")
    rate(db_path, "ann", 1550)
    rate(db_path, "bob", 1460)
    assert await ann.ok("play", opponent="*") == {"queued": True}
    reply = await bob.ok("play", opponent="*")
    assert set(reply) == {"queued", "game"}
    game = await bob.ok("subscribe", topic=f"game:{reply['game']}")
    assert game["snapshot"]["players"] == ["ann", "bob"]
