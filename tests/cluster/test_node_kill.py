"""Issue 10 (c): SIGKILL of the node that wrote last, in the middle of a game.

Ann plays on node 0, Bob on node 1, spectators follow the game from nodes 0, 1 and 2.  Bob's
moves complete the rounds, so node 1 writes last; node 1 is SIGKILLed while Bob's move of round 3
is on its way.  Bob and the spectator of node 1 reconnect to a live node, recover the game's topic
with ``since`` and go on; the game ends.  No acknowledged move is lost, every watcher saw seqs
1..N once, the same bytes as the stored history, and node 1 restarted serves the same game.

Runs on three nodes and Redis; ``RPS_HUB_TEST_CLUSTER=single`` runs it against one hub (restarted
after the kill), which ``tests/cluster/test_harness.py`` does.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from tests.cluster.harness import Cluster, cluster
from tests.cluster.harness_clients import Clients, connected
from tests.cluster.harness_games import Acks, challenge_and_accept, check_game
from tests.cluster.harness_players import Player

# Ann wins 3-1 in round 5 (best of 5): a tie, then wins for each side.
ROUNDS = (
    ("Rock", "Rock"),
    ("Rock", "Scissors"),
    ("Paper", "Scissors"),
    ("Scissors", "Paper"),
    ("Rock", "Scissors"),
)
KILLED = 1  # Bob's slot
ARGS = ("--round-deadline", "0")


async def both_move(ann: Player, bob: Player, game: str, n: int) -> None:
    """Round ``n``: Ann moves, then Bob (whose move resolves it); both see the result."""
    a_roll, b_roll = ROUNDS[n - 1]
    for player, roll in ((ann, a_roll), (bob, b_roll)):
        reply = await player.move(game, n, roll)
        assert reply.frame["ok"], reply.raw
    for player in (ann, bob):
        await player.wait_seen(f"game:{game}", "round", {"round": n})


async def kill_the_last_writer(c: Cluster, clients: Clients) -> None:
    """The scenario on any cluster of at least three slots (one node: it restarts)."""
    acks, rng = Acks(), random.Random(10)
    lobby = await clients.watcher(0, "lobby")
    ann = await Player.join(clients, "ann", 0, acks, rng)
    bob = await Player.join(clients, "bob", KILLED, acks, rng)
    await lobby.wait_event("lobby", "player_joined", lambda d: d["name"] == "bob")
    game = await challenge_and_accept(ann.conn, bob.conn, best_of=5, rules="rps3")
    topic = f"game:{game}"
    spectators = []
    for slot in range(3):
        conn = await clients.connect(slot, f"spectator{slot}")
        await conn.subscribe(topic, 0, ann.conn.subs[topic].epoch)
        spectators.append(Player(clients, f"spectator{slot}", conn, acks, rng, [conn]))
    for p in (ann, bob, *spectators):
        p.live.add(topic)

    await both_move(ann, bob, game, 1)
    await both_move(ann, bob, game, 2)
    assert (await ann.move(game, 3, ROUNDS[2][0])).frame["ok"]
    sent = asyncio.create_task(bob.move(game, 3, ROUNDS[2][1]))
    await asyncio.sleep(0.002)  # the move is on its way, or already at the node
    await c.kill(KILLED)
    await c.elsewhere(KILLED)  # with one node, it serves again
    reply = await sent
    assert reply.frame["ok"] and reply.data == {"round": 3}, reply.raw
    for p in (ann, bob):
        await p.wait_seen(topic, "round", {"round": 3})
    for n in (4, 5):
        await both_move(ann, bob, game, n)
    for p in (ann, bob):
        over = await p.wait_seen(topic, "game_over")
        assert over.data["winner"] == "ann" and over.data["score"] == {"ann": 3, "bob": 1}
    assert bob.reconnects >= 1, bob.conn.label
    assert c.node(bob.conn.slot).running, bob.conn.label

    if not c.node(KILLED).running:
        await c.restart(KILLED)
    await check_game(clients, game, [ann, bob, *spectators], range(3))
    lost = await acks.lost(clients)
    assert lost == [], f"acknowledged moves not stored: {lost}"
    assert len(acks.moves) == 2 * len(ROUNDS), acks.moves
    clients.assert_sound()


async def test_a_game_goes_on_when_the_node_that_wrote_last_is_killed(tmp_path: Path) -> None:
    async with cluster(tmp_path, args=ARGS) as c, connected(c) as clients:
        await kill_the_last_writer(c, clients)
