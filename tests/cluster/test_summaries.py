"""A live game's lobby summary on a cluster: every round's score reaches every node's lobby, and
nothing about the game follows its ``game_finished``.

``--summary-interval 0``: a summary after every round.  Ann (node 0) plays Bob (node 1), best of
5, each round moved from both nodes; a summary is stored without the lobby lock, on condition
that the game's summary is still there (a game that finished meanwhile, on any node, gets none).
The lobby on node 2 sees a ``game_updated`` for each round before the last, with its score, then
``game_finished``, and nothing more about the game; every node's snapshot lists no live game.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.cluster.harness import cluster
from tests.cluster.harness_clients import connected
from tests.cluster.harness_games import challenge_and_accept, check_lobby, game_over, play_round

ARGS = ("--summary-interval", "0", "--round-deadline", "0")


async def test_each_rounds_summary_reaches_every_lobby_and_none_follows_the_end(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, args=ARGS) as c, connected(c) as clients:
        assert c.brokered, "this test needs the broker"
        lobbies = [await clients.watcher(s, "lobby") for s in (0, 1, 2)]
        ann, bob = await clients.player("ann", 0), await clients.player("bob", 1)
        game = await challenge_and_accept(ann, bob, best_of=5, rules="rps3")
        for n in (1, 2, 3):  # Ann wins 3-0
            await play_round(bob, ann, game, n, ("Scissors", "Rock"))
        await game_over(ann, game)
        watcher = lobbies[2]
        await watcher.wait_event("lobby", "game_finished", lambda d: d["id"] == game)
        await asyncio.sleep(1.0)  # a summary still on its way would arrive now
        about = [
            (s.frame["event"], s.data.get("score"))
            for s in watcher.frames
            if s.frame.get("topic") == "lobby" and s.data.get("id") == game
        ]
        assert about[0][0] == "game_started" and about[-1][0] == "game_finished", about
        updates = [score for event, score in about if event == "game_updated"]
        assert updates == [{"ann": 1, "bob": 0}, {"ann": 2, "bob": 0}], about
        await check_lobby(clients, lobbies, (0, 1, 2))
        for slot in (0, 1, 2):
            snapshot = (await (await clients.connect(slot, "look")).subscribe("lobby"))["snapshot"]
            assert snapshot["games"] == [], snapshot
        clients.assert_sound()
