"""Issue 10 (g): one node cut off from Redis and PostgreSQL by its proxies, then healed.

Ann (node 0) plays Bob (node 1); Carl (node 2) plays Dora (node 0).  Node 2's database and Redis
links go through proxies of their own, which stall (the links hang, new ones are refused) or drop
(every link reset, new ones refused).  Node 2 must then say so: ``/healthz`` 503, and Carl's move
there answered ``unavailable`` (or his connection closed), never ``ok``.  The other nodes go on:
Ann and Bob play a round.  Carl moves to node 0, recovers his game and finishes it.  Healed,
node 2 answers 200 again and serves Carl a new game.  Every game is stored as its watchers saw
it; no acknowledged move is lost.  Needs the broker: it does not run against one hub.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.cluster.harness import Cluster, cluster
from tests.cluster.harness_clients import Clients, connected
from tests.cluster.harness_games import Acks, challenge_and_accept, check_game, joined
from tests.cluster.harness_players import Lost, Player

ARGS = ("--round-deadline", "0", "--grace", "10")
NOTICE = 10.0  # seconds a node may take to see it is cut off, or healed
CUT = 2


async def both_move(first: Player, second: Player, game: str, n: int) -> None:
    """Round ``n``: ``first`` plays Rock, ``second`` Scissors; both see the result."""
    for player, roll in ((first, "Rock"), (second, "Scissors")):
        reply = await player.move(game, n, roll)
        assert reply.frame["ok"], reply.raw
    for player in (first, second):
        await player.wait_seen(f"game:{game}", "round", {"round": n})


async def a_node_cut_off(c: Cluster, clients: Clients, *, drop: bool) -> None:
    """The scenario on a cluster of three proxied nodes with a broker."""
    assert c.node(CUT).proxies and c.brokered, "this scenario needs proxied nodes and a broker"
    acks, rng = Acks(), random.Random(7)
    lobby = await clients.watcher(0, "lobby")
    ann = await Player.join(clients, "ann", 0, acks, rng)
    bob = await Player.join(clients, "bob", 1, acks, rng)
    carl = await Player.join(clients, "carl", CUT, acks, rng)
    dora = await Player.join(clients, "dora", 0, acks, rng)
    await joined(lobby, "ann", "bob", "carl", "dora")
    first = await challenge_and_accept(ann.conn, bob.conn, best_of=3, rules="rps3")
    second = await challenge_and_accept(carl.conn, dora.conn, best_of=3, rules="rps3")
    for p, game in ((ann, first), (bob, first), (carl, second), (dora, second)):
        p.live.add(f"game:{game}")
    await both_move(ann, bob, first, 1)
    await both_move(dora, carl, second, 1)  # Carl (Scissors) loses round 1

    c.cut(CUT, drop=drop)
    await c.wait_health(CUT, 503, within=NOTICE)
    try:
        reply = await carl.conn.request("move", game=second, roll="Rock", round=2, within=NOTICE)
    except Lost:
        pass  # node 2 closed Carl's connection first: as good as unavailable
    else:
        assert reply.frame.get("error", {}).get("code") == "unavailable", reply.raw
    await both_move(bob, ann, first, 2)  # the other nodes are not affected: Bob wins round 2

    await carl.reconnect(0)
    await both_move(carl, dora, second, 2)  # the move, sent again on node 0
    await both_move(carl, dora, second, 3)
    for p in (carl, dora):
        over = await p.wait_seen(f"game:{second}", "game_over")
        assert over.data["winner"] == "carl", over.raw
    await both_move(ann, bob, first, 3)

    c.heal(CUT)
    await c.wait_health(CUT, 200, within=NOTICE)
    await carl.reconnect(CUT)
    again = await carl.act("play", opponent="computer", best_of=1, rules="rps3")
    assert again.frame["ok"] and "game" in again.data, again.raw

    for game in (first, second):
        await check_game(clients, game, [ann, bob] if game == first else [carl, dora], range(3))
    assert await acks.lost(clients) == []
    clients.assert_sound()


@pytest.mark.parametrize("drop", [False, True], ids=["stalled", "reset"])
async def test_a_node_cut_off_answers_unavailable_its_clients_move_and_it_heals(
    tmp_path: Path, drop: bool
) -> None:
    async with cluster(tmp_path, proxied=True, args=ARGS) as c, connected(c) as clients:
        await a_node_cut_off(c, clients, drop=drop)
