"""A cluster node's ``/metrics`` show its Redis commands and what its relay did."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cluster.harness import cluster
from tests.cluster.harness_clients import connected
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
        async with http() as session, session.get(c.url(1) + "/metrics") as answer:
            assert answer.status == 200
            text = await answer.text()
        relayed = "rps_hub_cluster_relay_messages_total"
        assert sample(text, relayed, '{what="received"}') >= 1  # pat's player_joined, from node 0
        assert sample(text, relayed, '{what="delivered"}') >= 1
        assert sample(text, relayed, '{what="resets"}') == 0
        assert sample(text, "rps_hub_cluster_redis_commands_total") > 0
        assert sample(text, "rps_hub_cluster_relay_connected") == 1
        assert sample(text, "rps_hub_cluster_relay_topics") >= 1
