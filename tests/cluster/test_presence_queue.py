"""A queued player of a dead node leaves as in one process: the queue's pool, then player_left.

``--grace 1``.  Pat waits in the queue on node 1 and challenges Quin (on node 0); node 1 is
SIGKILLed.  Quin's challenge from Pat is withdrawn (on Quin's topic), and the lobby on node 0
tells, in this order and once each, the rps3 best-of-3 pool back to 0 and ``player_left`` for
Pat: the order a single process sends them in when a queued player's grace ends (a node's reaper
once sent ``player_left`` first).
"""

from __future__ import annotations

from pathlib import Path

from tests.cluster.harness import cluster
from tests.cluster.harness_clients import connected

ARGS = ("--grace", "1", "--round-deadline", "0")


async def test_a_queued_player_of_a_dead_node_leaves_the_queue_before_the_lobby(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, args=ARGS) as c, connected(c) as clients:
        assert c.brokered, "this test needs the broker"
        lobby = await clients.watcher(0, "lobby")
        quin = await clients.player("quin", 0)
        pat = await clients.player("pat", 1)
        await lobby.wait_event("lobby", "player_joined", lambda d: d["name"] == "pat")
        challenge = await pat.request("play", opponent="quin", best_of=3, rules="rps3")
        assert challenge.frame["ok"], challenge.raw
        queued = await pat.request("play", opponent="*", best_of=3, rules="rps3")
        assert queued.frame["ok"], queued.raw
        await lobby.wait_event("lobby", "queue", lambda d: d["waiting"] == 1)
        mark = len(lobby.frames)

        await c.kill(1)
        await lobby.wait_event("lobby", "player_left", lambda d: d["name"] == "pat", after=mark)
        await quin.wait_event("player:quin", "challenge_withdrawn")
        told = [
            (s.frame["event"], s.data)
            for s in lobby.frames[mark:]
            if s.frame.get("type") == "event" and s.frame["event"] != "game_updated"
        ]
        assert told == [
            ("queue", {"rules": "rps3", "best_of": 3, "waiting": 0}),
            ("player_left", {"name": "pat"}),
        ], told
        clients.assert_sound()
