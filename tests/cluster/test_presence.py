"""Issue 10 (e): presence when a node dies.

``--grace 2``.  Pat and Quin are connected to node 1 only; lobbies watch from nodes 0 and 2.
Node 1 is SIGKILLed; Quin reconnects to node 2 at once, Pat does not.  Pat must leave the lobby
(``player_left`` on every other node) within grace + 5 s of the kill; Quin, back within the grace
period, must neither leave nor join again, and stays active over REST while Pat does not.

With one node (``RPS_HUB_TEST_CLUSTER=single``, as ``tests/cluster/test_harness.py`` runs it)
nothing is killed: both players' connections close on the client's side instead, which checks
the scenario's protocol against today's presence.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.cluster.harness import Cluster, cluster
from tests.cluster.harness_clients import Clients, connected
from tests.cluster.harness_games import check_lobby

GRACE = 2.0
NOTICE = 5.0  # issue 10: a dead node's players leave within grace + this
ARGS = ("--grace", str(GRACE), "--round-deadline", "0")
KILLED = 1
WATCHING = (0, 2)


async def presence_survives_a_dead_node(c: Cluster, clients: Clients) -> None:
    """The scenario on any cluster of at least three slots."""
    lobbies = [await clients.watcher(s, "lobby") for s in WATCHING]
    pat = await clients.player("pat", KILLED)
    quin = await clients.player("quin", KILLED)
    for lobby in lobbies:
        await lobby.wait_event("lobby", "player_joined", lambda d: d["name"] == "pat")
        await lobby.wait_event("lobby", "player_joined", lambda d: d["name"] == "quin")
    marks = [len(lobby.frames) for lobby in lobbies]

    started = time.monotonic()
    if len(c.nodes) > 1:
        await c.kill(KILLED)
    else:
        await asyncio.gather(pat.close(), quin.close())
    quin = await clients.reconnect(quin, 2)

    for lobby, mark in zip(lobbies, marks, strict=True):
        left = GRACE + NOTICE - (time.monotonic() - started)
        await lobby.wait_event(
            "lobby", "player_left", lambda d: d["name"] == "pat", after=mark, within=max(left, 0.1)
        )
    # Quin's grace, had it started at the kill, is over by now; give a late leave one more second.
    await asyncio.sleep(max(0.0, GRACE + 1 - (time.monotonic() - started)))
    for lobby, mark in zip(lobbies, marks, strict=True):
        about_quin = [
            s.raw
            for s in lobby.frames[mark:]
            if s.frame.get("topic") == "lobby"
            and s.frame["event"] in ("player_left", "player_joined")
            and s.data["name"] == "quin"
        ]
        assert about_quin == [], f"{lobby.label}: quin came back within grace: {about_quin}"
    for slot in WATCHING:
        assert (await clients.get(slot, "/api/players/quin"))["active"] is True
        assert (await clients.get(slot, "/api/players/pat"))["active"] is False
    await check_lobby(clients, lobbies, WATCHING)
    snapshot = (await (await clients.connect(0, "last-look")).subscribe("lobby"))["snapshot"]
    assert [p["name"] for p in snapshot["players"]] == ["quin"], snapshot
    clients.assert_sound()


async def test_a_dead_nodes_players_leave_unless_they_reconnect_within_grace(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, args=ARGS) as c, connected(c) as clients:
        await presence_survives_a_dead_node(c, clients)
