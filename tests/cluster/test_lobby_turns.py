"""A node's lobby changes take turns on the node, and those waiting go together in one hold of
the cluster's lock.

Every change of the lobby (here: games against the computer starting) takes the lobby lock in
Redis, whose waiters poll it every few milliseconds.  When every change of a node waited there,
40 games starting at once on node 0 were 40 pollers, hundreds of commands, and under a steady
load some waited past 5 s and were refused (``unavailable``: ``benchmarks/cluster.py`` at 100
players).  Then a node's changes queued on the node, first come first, and only the change whose
turn it was waited in Redis: 3 commands a change.  Now the changes waiting when a hold of the lock
begins are made in it one after the other and stored in one commit: a fraction of a command a
change.  Needs the broker.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.cluster.harness import cluster
from tests.cluster.harness_clients import Clients, connected
from tests.cluster.test_metrics import metrics_text, sample


async def counts(clients: Clients, slot: int) -> tuple[float, float, float]:
    """Node ``slot``'s Redis commands, lobby changes and holds of the lobby lock so far."""
    text = await metrics_text(clients.cluster, slot)
    return (
        sample(text, "rps_hub_cluster_redis_commands_total"),
        sample(text, "rps_hub_cluster_lobby_changes_total"),
        sample(text, "rps_hub_cluster_lobby_holds_total"),
    )


async def test_a_nodes_lobby_changes_waiting_together_share_a_hold_of_the_lock(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as c, connected(c) as clients:
        assert c.brokered, "this test needs the broker"
        players = [await clients.player(f"turn{i:02d}", 0) for i in range(40)]
        commands, changes, holds = await counts(clients, 0)
        replies = await asyncio.gather(
            *(p.request("play", opponent="computer", best_of=1, rules="rps3") for p in players)
        )
        assert all(r.frame["ok"] for r in replies), [r.frame for r in replies if not r.frame["ok"]]
        after_commands, after_changes, after_holds = await counts(clients, 0)
        made = after_changes - changes
        per_change = (after_commands - commands) / made
        # 25 a change when every change polled the lock, 3.0 when they took turns, 0.15-0.18
        # measured in holds of several changes.
        assert made >= 40 and per_change <= 1.0, (made, per_change)
        assert after_holds - holds <= made / 4, (made, after_holds - holds)
        clients.assert_sound()
