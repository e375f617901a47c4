"""Issue 10 (f): Redis is killed (every key lost) and restarted, the nodes keep running.

Ann (node 0) and Bob (node 1) are in a game; Carl (node 2) is idle; lobbies watch from every node.
Once Redis is killed every node's ``/healthz`` answers 503 within a few seconds; a move (game
actions need only PostgreSQL) is answered ``ok`` or ``unavailable``, never anything else, and an
``ok`` one is stored; lobby actions (the queue, a challenge) answer ``unavailable``.  Redis starts
again, empty, on the same port: every ``/healthz`` is 200 again within a few seconds without
restarting a node; each lobby subscriber either keeps its subscription (seqs still contiguous)
or, closed, subscribes again with ``since`` and gets its events recovered or a new epoch with a
snapshot; a new player's ``player_joined`` reaches every one; the game finishes and is stored.
Needs the broker: it does not run against one hub.
"""

from __future__ import annotations

import itertools
import random
from functools import partial
from pathlib import Path

from tests.cluster.harness import Cluster, cluster
from tests.cluster.harness_clients import Clients, connected
from tests.cluster.harness_games import (
    Acks,
    challenge_and_accept,
    check_game,
    check_lobby,
    reply_of,
)
from tests.cluster.harness_players import Lost, Player

ARGS = ("--round-deadline", "0", "--grace", "10")
NOTICE = 5.0  # seconds a node may take to see Redis gone or back
SLOTS = range(3)


async def both_move(ann: Player, bob: Player, game: str, n: int) -> None:
    """Round ``n``: Ann's Rock beats Bob's Scissors; both see the result."""
    for player, roll in ((ann, "Rock"), (bob, "Scissors")):
        reply = await player.move(game, n, roll)
        assert reply.frame["ok"], reply.raw
    for player in (ann, bob):
        await player.wait_seen(f"game:{game}", "round", {"round": n})


def knows(lobby: Player, name: str) -> bool:
    """True when ``name`` joined on the lobby follower's connection, or is in the snapshot that
    its latest subscription began with (it joined before a resubscription)."""
    if any(s.data["name"] == name for s in lobby.seen("lobby", "player_joined")):
        return True
    conn = lobby.conn
    if "lobby" not in conn.subs:
        return False
    snapshot = conn.frames[reply_of(conn, "lobby")].data["snapshot"] or {"players": []}
    return any(p["name"] == name for p in snapshot["players"])


async def redis_dies_and_comes_back(c: Cluster, clients: Clients) -> None:
    """The scenario on a cluster of three nodes with a broker."""
    assert c.redis is not None, "this scenario needs the nodes' Redis"
    acks, rng = Acks(), random.Random(6)
    lobbies = []
    for slot in SLOTS:
        conn = await clients.watcher(slot, "lobby")
        lobbies.append(Player(clients, f"lobby{slot}", conn, acks, rng, [conn], {"lobby"}))
    ann = await Player.join(clients, "ann", 0, acks, rng)
    bob = await Player.join(clients, "bob", 1, acks, rng)
    carl = await Player.join(clients, "carl", 2, acks, rng)
    await lobbies[0].wait_seen("lobby", "player_joined", {"name": "carl"})
    game = await challenge_and_accept(ann.conn, bob.conn, best_of=5, rules="rps3")
    for p in (ann, bob):
        p.live.add(f"game:{game}")
    await both_move(ann, bob, game, 1)

    c.redis.kill()
    for i in SLOTS:
        await c.wait_health(i, 503, within=NOTICE)
    for player, roll in ((ann, "Rock"), (bob, "Scissors")):
        try:
            reply = await player.conn.request("move", game=game, roll=roll, round=2)
        except Lost:
            continue  # closed before it answered: sent again below
        if reply.frame["ok"]:
            assert reply.data == {"round": 2}, reply.raw
            acks.add(player.name, game, 2, roll)
        else:
            assert reply.frame["error"]["code"] == "unavailable", reply.raw
    for request in ({"opponent": "*", "best_of": 1, "rules": "rps3"}, {"opponent": "ann"}):
        assert await carl.conn.error("play", **request) == "unavailable"

    c.redis.start()
    for i in SLOTS:
        await c.wait_health(i, 200, within=NOTICE)
    await both_move(ann, bob, game, 2)  # the same rolls: a stored move answers as before
    await both_move(ann, bob, game, 3)
    for p in (ann, bob):
        over = await p.wait_seen(f"game:{game}", "game_over")
        assert over.data["winner"] == "ann", over.raw

    await Player.join(clients, "dave", 0, acks, rng)
    for lobby in lobbies:
        await lobby.until(partial(knows, name="dave"), "dave in the lobby")
        for before_, after in itertools.pairwise(lobby.chain):
            again = after.frames[reply_of(after, "lobby")].data
            assert again["recovered"] or again["epoch"] != before_.subs["lobby"].epoch, (
                f"{after.label}: not recovered, yet the same epoch: {again}"
            )
    await check_game(clients, game, [ann, bob], SLOTS)
    assert await acks.lost(clients) == []
    fresh = [await clients.watcher(s, "lobby") for s in SLOTS]
    await Player.join(clients, "erin", 1, acks, rng)
    for conn in fresh:
        await conn.wait_event("lobby", "player_joined", lambda d: d["name"] == "erin")
    await check_lobby(clients, fresh, SLOTS)
    clients.assert_sound()


async def test_redis_killed_and_restarted_loses_no_move_and_the_nodes_recover(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, args=ARGS) as c, connected(c) as clients:
        await redis_dies_and_comes_back(c, clients)
