"""Many players logging in at once on a cluster node join the lobby in a few changes.

Each connection that opens is listed in the lobby document, under the cluster's lobby lock.  A
change each made a thousand logins at once (a node's players reconnecting to the others after it
died, a deploy) a thousand waits for the lock, spinning in Redis: 74% of them were refused with
``unavailable`` after 5 s (three nodes, 1,000 players, an idle machine).  Here 150 players log
in at once on node 0 and 50 on node 1: every one is let in, joins the lobby once, and node 0
stores far fewer lobby changes than it had logins.  Needs the broker.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.cluster.harness import cluster
from tests.cluster.harness_clients import Clients, connected
from tests.cluster.test_metrics import metrics_text, sample


async def changes(clients: Clients, slot: int) -> float:
    """The lobby changes node ``slot`` has stored so far."""
    text = await metrics_text(clients.cluster, slot)
    return sample(text, "rps_hub_cluster_lobby_changes_total")


async def test_players_logging_in_at_once_join_the_lobby_in_a_few_changes(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c, connected(c) as clients:
        assert c.brokered, "this test needs the broker"
        names = [f"storm{i:03d}" for i in range(200)]
        tokens = [await clients.register(name) for name in names]
        conns = await asyncio.gather(
            *(clients.connect(i // 150, name) for i, name in enumerate(names))
        )
        lobby = await clients.watcher(2, "lobby")
        before = await changes(clients, 0)
        auths = await asyncio.gather(
            *(conn.auth(token) for conn, token in zip(conns, tokens, strict=True))
        )
        assert sorted(a["player"] for a in auths) == names
        for name in names:
            await lobby.wait_event("lobby", "player_joined", lambda d, name=name: d["name"] == name)
        made = await changes(clients, 0) - before
        assert 1 <= made <= 50, f"150 logins on node 0 took {made:g} lobby changes"
        clients.assert_sound()
