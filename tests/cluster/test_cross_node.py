"""Issue 10 (a): a challenge and a whole game across nodes, watched from every node.

Ann on node 0 challenges Bob on node 1, Bob accepts, they play to the end.  Spectators on nodes
0, 1 and 2 follow the game's topic from seq 0: each sees seqs 1..N once, the same bytes, equal to
the stored game and to a replay on every node.  The lobby on every node has one epoch and the same
events, and every snapshot fits them.  Each reply came after the events it caused.  Then three
pairs with seats on different nodes play games whose two seats move at the same moment.

Runs on three nodes and Redis; ``RPS_HUB_TEST_CLUSTER=single`` runs it against one hub without a
broker, as ``tests/cluster/test_harness.py`` does in CI.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from tests.cluster.harness import Cluster, cluster
from tests.cluster.harness_clients import Clients, connected
from tests.cluster.harness_games import (
    Acks,
    challenge_and_accept,
    check_game,
    check_lobby,
    game_over,
    joined,
    play_round,
)
from tests.cluster.harness_pairs import play_game, start_game
from tests.cluster.harness_players import Player

# Ann wins 2-1 after a tie: every kind of round, each seat moving first in turn.
ROUNDS = (("Rock", "Rock"), ("Rock", "Scissors"), ("Paper", "Scissors"), ("Scissors", "Paper"))


async def cross_node_game(c: Cluster, clients: Clients) -> None:
    """The scenario on any cluster of at least three slots."""
    slots = range(3)
    lobbies = [await clients.watcher(s, "lobby") for s in slots]
    ann = await clients.player("ann", 0)
    bob = await clients.player("bob", 1)
    for lobby in lobbies:  # every node knows Bob is active before Ann challenges him
        await lobby.wait_event("lobby", "player_joined", lambda d: d["name"] == "bob")
    game = await challenge_and_accept(ann, bob, best_of=3, rules="rps3")
    topic = f"game:{game}"
    epoch = ann.subs[topic].epoch
    watchers = []
    for s in slots:
        watcher = await clients.connect(s, f"watcher[{topic}]")
        data = await watcher.subscribe(topic, 0, epoch)
        assert data["recovered"] is True and data["snapshot"] is None, data
        watchers.append(watcher)

    acks = Acks()
    for n, (a_roll, b_roll) in enumerate(ROUNDS, start=1):
        if n % 2:
            await play_round(ann, bob, game, n, (a_roll, b_roll), acks)
        else:
            await play_round(bob, ann, game, n, (b_roll, a_roll), acks)
    for seat in (ann, bob):
        over = await game_over(seat, game)
        assert over.data["winner"] == "ann" and over.data["reason"] == "won", over.raw
    final = await check_game(clients, game, watchers, slots)
    assert final["score"] == {"ann": 2, "bob": 1}, final
    assert await acks.lost(clients, 2) == []
    for lobby in lobbies:
        await lobby.wait_event("lobby", "game_finished", lambda d: d["id"] == game)
    await check_lobby(clients, lobbies, slots)
    clients.assert_sound()


async def simultaneous_moves(c: Cluster, clients: Clients) -> None:
    """Three pairs, each seat on another node, play three games each, both seats of a game
    moving at the same moment every round: every move is answered ``ok`` (SPEC §1: moves are
    simultaneous), every game is stored as its seats saw it."""
    acks = Acks()
    lobby = await clients.watcher(0, "lobby")
    players = [await Player.join(clients, f"s{i}", i % 3, acks, random.Random(i)) for i in range(6)]
    await joined(lobby, *(p.name for p in players))
    games: list[tuple[str, Player, Player]] = []

    async def pair(a: Player, b: Player, rng: random.Random) -> None:
        for _ in range(3):
            game = await start_game(a, b)
            games.append((game, a, b))
            await play_game(a, b, game, rng, pause=(0, 0))

    pairs = [(players[0], players[1]), (players[2], players[4]), (players[3], players[5])]
    await asyncio.gather(*(pair(a, b, random.Random(i)) for i, (a, b) in enumerate(pairs)))
    for game, a, b in games:
        await check_game(clients, game, [a, b], range(3))
    assert await acks.lost(clients) == []
    clients.assert_sound()


async def test_a_challenge_and_a_game_across_nodes_look_the_same_from_every_node(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as c, connected(c) as clients:
        await cross_node_game(c, clients)


async def test_seats_on_two_nodes_moving_at_the_same_moment_are_both_answered_ok(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as c, connected(c) as clients:
        await simultaneous_moves(c, clients)
