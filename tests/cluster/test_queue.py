"""Issue 10 (b): 20 players spread across three nodes queue at the same moment.

Exactly 10 games start, each of two of them, nobody in two: every player gets one
``game_started``, ``GET /api/games?status=playing`` on every node lists exactly those games, a
second ``play`` by anyone is a ``conflict`` naming their game, and the lobby on every node saw
the 10 starts and fits its snapshots.

Runs on three nodes and Redis; ``RPS_HUB_TEST_CLUSTER=single`` runs it against one hub without a
broker, as ``tests/cluster/test_harness.py`` does in CI.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.cluster.harness import Cluster, cluster
from tests.cluster.harness_clients import Clients, connected
from tests.cluster.harness_games import before, check_lobby

PLAYERS = 20
POOL: dict[str, Any] = {"best_of": 1, "rules": "rps3"}


async def queue_rush(c: Cluster, clients: Clients, players: int = PLAYERS) -> None:
    """The scenario on any cluster of at least three slots."""
    slots = range(3)
    lobbies = [await clients.watcher(s, "lobby") for s in slots]
    names = [f"q{i:02}" for i in range(players)]
    seats = await asyncio.gather(*(clients.player(n, i % 3) for i, n in enumerate(names)))
    for lobby in lobbies:  # every node knows every player is active
        await lobby.until(
            lambda conn: len(conn.events("lobby", "player_joined")) == players,
            f"{players} player_joined",
        )

    replies = await asyncio.gather(*(seat.request("play", opponent="*", **POOL) for seat in seats))
    for seat, reply in zip(seats, replies, strict=True):
        assert reply.frame["ok"] and reply.data["queued"] is True, reply.raw
        if "game" in reply.data:  # paired at once: the start came before the reply
            before(seat, reply, f"player:{seat.player}", "game_started", {"id": reply.data["game"]})

    games: dict[str, list[str]] = {}
    for seat in seats:
        started = await seat.wait_event(f"player:{seat.player}", "game_started")
        games.setdefault(started.data["id"], started.data["players"])
        assert seat.player in started.data["players"], started.raw
        await seat.wait_event(f"game:{started.data['id']}", "round_open")
    assert len(games) == players // 2, games
    seated = sorted(p for pair in games.values() for p in pair)
    assert seated == sorted(names), f"some player has no game or two: {seated}"
    for seat in seats:  # one game_started each, nothing more
        assert len(seat.events(f"player:{seat.player}", "game_started")) == 1, seat.label

    for slot in slots:
        listed = await clients.get(slot, "/api/games?status=playing&limit=100")
        assert {g["id"]: g["players"] for g in listed["games"]} == games, (slot, listed)
    for i, seat in enumerate(seats):
        mine = next(g for g, pair in games.items() if seat.player in pair)
        again = await seat.request("play", opponent="*" if i % 2 else "computer", **POOL)
        assert not again.frame["ok"] and again.frame["error"]["code"] == "conflict", again.raw
        assert mine in again.frame["error"]["message"], again.raw

    for lobby in lobbies:
        await lobby.until(
            lambda conn: {f.data["id"] for f in conn.events("lobby", "game_started")} == set(games),
            f"{players // 2} game_started on the lobby",
        )
    await check_lobby(clients, lobbies, slots)
    for slot in slots:  # nobody left waiting, everybody playing, as every node sees it
        snapshot = (await (await clients.connect(slot, "last-look")).subscribe("lobby"))["snapshot"]
        assert snapshot["queue"] == [], snapshot
        assert {p["name"]: p["status"] for p in snapshot["players"]} == dict.fromkeys(
            names, "playing"
        ), snapshot
        assert {g["id"] for g in snapshot["games"]} == set(games), snapshot
    clients.assert_sound()


async def test_twenty_players_queueing_at_once_on_three_nodes_make_exactly_ten_games(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as c, connected(c) as clients:
        await queue_rush(c, clients)
