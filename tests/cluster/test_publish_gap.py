"""Issue 10: a node stores a change and cannot publish it (its Redis link is cut right then).

Ann (node 0) plays Bob (node 1); spectators follow the game on nodes 1 and 2.  Node 0's link to
Redis is reset and refused (PostgreSQL still answers), which is what the others see of a node
that died between the database commit and the Redis publish: its events are stored, never
published.  Ann's moves there are still answered ``ok`` (games need only PostgreSQL), and the move
that ends the game too, though the lobby cannot hear of it yet.  The spectators on the other
nodes get every event anyway, in order and once each (their relays read the stored game's head
once a second and catch up from PostgreSQL); when the link comes back the lobby hears that the
game finished, on every node, and Ann and Bob are idle again.  Needs the broker.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.cluster.harness import cluster
from tests.cluster.harness_clients import connected
from tests.cluster.harness_games import Acks, challenge_and_accept, check_game, joined
from tests.cluster.harness_players import Player

ARGS = ("--round-deadline", "0", "--grace", "10")
CUT = 0


def idle(name: str) -> Callable[[Any], bool]:
    """Matches the ``player_status`` data saying ``name`` is idle."""
    return lambda data: bool(data == {"name": name, "status": "idle"})


async def test_events_stored_but_not_published_reach_every_node_and_the_lobby_hears_later(
    tmp_path: Path,
) -> None:
    async with (
        cluster(tmp_path, proxied=True, args=ARGS) as c,
        connected(c) as clients,
    ):
        assert c.brokered, "this test needs the broker"
        acks, rng = Acks(), random.Random(3)
        lobbies = [await clients.watcher(s, "lobby") for s in (1, 2)]
        ann = await Player.join(clients, "ann", CUT, acks, rng)
        bob = await Player.join(clients, "bob", 1, acks, rng)
        for lobby in lobbies:
            await joined(lobby, "ann", "bob")
        game = await challenge_and_accept(ann.conn, bob.conn, best_of=3, rules="rps3")
        topic = f"game:{game}"
        for p in (ann, bob):
            p.live.add(topic)
        watchers = []
        for slot in (1, 2):
            watcher = await clients.connect(slot, f"watcher[{topic}]")
            epoch = ann.conn.subs[topic].epoch
            await watcher.subscribe(topic, 0, epoch)
            watchers.append(watcher)

        c.cut(CUT, drop=True, db=False)  # Redis only: node 0 stores, and cannot publish
        for n in (1, 2):  # Bob moves first, Ann's move on node 0 resolves each round
            assert (await bob.move(game, n, "Scissors")).frame["ok"]
            reply = await ann.move(game, n, "Rock")
            assert reply.frame["ok"], reply.raw
        for watcher in watchers:  # caught up from PostgreSQL, not from Redis
            await watcher.wait_event(topic, "game_over", lambda d: d["winner"] == "ann")
        await bob.wait_seen(topic, "game_over")

        c.heal(CUT)
        for lobby in lobbies:
            await lobby.wait_event("lobby", "game_finished", lambda d: d["id"] == game)
            for name in ("ann", "bob"):
                await lobby.wait_event("lobby", "player_status", idle(name))
        await check_game(clients, game, watchers, range(3))
        assert await acks.lost(clients) == []
        clients.assert_sound()
