"""A cluster node's ``/metrics`` show its Redis commands and what its relay did."""

from __future__ import annotations

import re
from pathlib import Path

from hub.fanout import FINISHED_KEPT
from tests.cluster.harness import Cluster, cluster
from tests.cluster.harness_clients import connected
from tests.cluster.harness_games import challenge_and_accept, game_over, play_round
from tests.conftest import eventually
from tests.reliability.harness import http


def sample(text: str, name: str, labels: str = "") -> float:
    """The value of one sample of the exposition ``text``."""
    found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    assert found, f"no {name}{labels} in /metrics"
    return float(found.group(1))


async def test_a_nodes_metrics_count_the_events_its_relay_brought_from_another_node(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as c, connected(c) as clients:
        assert c.brokered, "this test needs the broker"
        lobby = await clients.watcher(1, "lobby")
        await clients.player("pat", 0)
        await lobby.wait_event("lobby", "player_joined", lambda d: d["name"] == "pat")
        text = await metrics_text(c, 1)
        relayed = "rps_hub_cluster_relay_messages_total"
        assert sample(text, relayed, '{what="received"}') >= 1  # pat's player_joined, from node 0
        assert sample(text, relayed, '{what="delivered"}') >= 1
        assert sample(text, relayed, '{what="resets"}') == 0
        assert sample(text, "rps_hub_cluster_redis_commands_total") > 0
        assert sample(text, "rps_hub_cluster_relay_connected") == 1
        assert sample(text, "rps_hub_cluster_relay_topics") >= 1


async def metrics_text(c: Cluster, slot: int) -> str:
    """Node ``slot``'s ``/metrics``, which must answer 200."""
    async with http() as session, session.get(c.url(slot) + "/metrics") as answer:
        assert answer.status == 200
        return await answer.text()


async def subscriptions(slot: int, c: Cluster) -> float:
    """The subscriptions node ``slot``'s connections hold, from its ``/metrics``."""
    return sample(await metrics_text(c, slot), "rps_hub_subscriptions")


async def test_no_node_keeps_more_than_the_last_finished_games_subscriptions(
    tmp_path: Path,
) -> None:
    # The seats on nodes 0 and 1, a spectator on node 2: each node ends the oldest finished
    # game's subscriptions beyond the last FINISHED_KEPT, whichever node stored the game.
    async with cluster(tmp_path) as c, connected(c) as clients:
        ann, bob = await clients.player("ann", 0), await clients.player("bob", 1)
        watcher = await clients.connect(2, "watcher")
        slots = range(len(c.nodes))
        held = sum([await subscriptions(s, c) for s in slots])
        for n in range(1, FINISHED_KEPT + 2):
            game = await challenge_and_accept(ann, bob, best_of=1, rules="rps3")
            await watcher.subscribe(f"game:{game}")
            await play_round(ann, bob, game, 1, ("Rock", "Scissors"))
            for conn in (ann, bob, watcher):
                assert (await game_over(conn, game)).data["winner"] == "ann"
            want = held + 3 * min(n, FINISHED_KEPT)  # the two seats and the spectator

            async def settled(want: float = want) -> bool:  # each node's relay in its own time
                return sum([await subscriptions(s, c) for s in slots]) == want

            await eventually(settled)
