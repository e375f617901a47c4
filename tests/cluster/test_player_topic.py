"""A player's topic goes with them when they leave, on a cluster as in one process.

``--grace 1``.  Pat connects to node 0 (``auth`` subscribes ``player:pat``: an epoch), gets a
challenge there, and goes; once ``player_left`` is out, Redis no longer holds Pat's topic (it
holds the topics of active players only).  Back on node 0 and on node 1, Pat's topic has one new
epoch, the same on both nodes, at seq 0: a subscriber coming back with the old epoch gets a
snapshot, as after a leave in one process.  Needs the broker.
"""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from tests.cluster.harness import cluster
from tests.cluster.harness_clients import connected

ARGS = ("--grace", "1", "--round-deadline", "0")


def player_topic(auth: dict[str, object]) -> dict[str, object]:
    """The ``player:`` entry of an ``auth`` reply's ``subscribed``."""
    subscribed = auth["subscribed"]
    assert isinstance(subscribed, list)
    (entry,) = [s for s in subscribed if str(s["topic"]).startswith("player:")]
    assert isinstance(entry, dict)
    return entry


async def test_a_players_topic_starts_a_new_epoch_on_every_node_once_they_left(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, args=ARGS) as c, connected(c) as clients:
        assert c.brokered and c.redis is not None, "this test needs the broker"
        lobby = await clients.watcher(2, "lobby")
        quin = await clients.player("quin", 2)
        pat = await clients.connect(0, "pat")
        first = player_topic(await pat.auth(await clients.register("pat", 0)))
        await lobby.wait_event("lobby", "player_joined", lambda d: d["name"] == "pat")
        assert (await quin.request("play", opponent="pat", best_of=1, rules="rps3")).frame["ok"]
        await pat.wait_event("player:pat", "challenge")
        await pat.close()
        await lobby.wait_event("lobby", "player_left", lambda d: d["name"] == "pat")

        redis = Redis.from_url(c.redis.url)
        try:
            held = await redis.exists(f"{c.prefix}:meta:player:pat", f"{c.prefix}:log:player:pat")
        finally:
            await redis.aclose()
        assert held == 0, "Redis still holds the topic of a player who left"

        again = [await clients.connect(slot, f"pat@{slot}") for slot in (0, 1)]
        topics = [player_topic(await conn.auth(pat.token or "")) for conn in again]
        assert topics[0]["epoch"] == topics[1]["epoch"] != first["epoch"], (first, topics)
        assert [t["seq"] for t in topics] == [0, 0], topics
        old_epoch, old_seq = str(first["epoch"]), int(str(first["seq"]))
        back = await again[0].subscribe("player:pat", old_seq + 1, old_epoch)
        assert back["recovered"] is False and back["epoch"] == topics[0]["epoch"], back
        clients.assert_sound()
