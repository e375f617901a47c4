"""A node's lobby changes take turns on the node before they wait for the cluster's lock.

Every change of the lobby (here: games against the computer starting) takes the lobby lock in
Redis, whose waiters poll it every few milliseconds.  When every change of a node waited there,
40 games starting at once on node 0 were 40 pollers, hundreds of commands, and under a steady
load some waited past 5 s and were refused (``unavailable``: ``benchmarks/cluster.py`` at 100
players).  Now a node's changes queue on the node, first come first, and only the change whose
turn it is waits in Redis: a few commands a change.  Needs the broker.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.cluster.harness import cluster
from tests.cluster.harness_clients import Clients, connected
from tests.cluster.test_metrics import metrics_text, sample


async def counts(clients: Clients, slot: int) -> tuple[float, float]:
    """Node ``slot``'s Redis commands and lobby changes so far."""
    text = await metrics_text(clients.cluster, slot)
    return (
        sample(text, "rps_hub_cluster_redis_commands_total"),
        sample(text, "rps_hub_cluster_lobby_changes_total"),
    )


async def test_a_nodes_lobby_changes_take_turns_instead_of_polling_redis_together(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as c, connected(c) as clients:
        assert c.brokered, "this test needs the broker"
        players = [await clients.player(f"turn{i:02d}", 0) for i in range(40)]
        commands, changes = await counts(clients, 0)
        replies = await asyncio.gather(
            *(p.request("play", opponent="computer", best_of=1, rules="rps3") for p in players)
        )
        assert all(r.frame["ok"] for r in replies), [r.frame for r in replies if not r.frame["ok"]]
        after_commands, after_changes = await counts(clients, 0)
        made = after_changes - changes
        per_change = (after_commands - commands) / made
        assert made >= 40 and per_change <= 8, (made, per_change)
        clients.assert_sound()
