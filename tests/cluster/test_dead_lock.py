"""A node that dies holding the lobby lock does not stall the lobby for the lock's ttl.

Every lobby change takes one lock in Redis (5 s ttl).  Node 1 is SIGKILLed, and its lock is put
back in Redis as though it had died in the middle of a change, with a ttl of a minute.  The
survivors, noticing node 1 dead, free its lock at once (its token names it; whatever it would
still have committed is fenced): Pat, who was on node 1, leaves the lobby within grace + 5 s, as
after any death, and a lobby action on another node is answered.  Needs the broker.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from redis.asyncio import Redis

from tests.cluster.harness import cluster
from tests.cluster.harness_clients import connected
from tests.reliability.harness import call, http

GRACE = 1.0
ARGS = ("--grace", str(GRACE), "--round-deadline", "0")


async def test_the_lock_of_a_node_that_died_holding_it_is_freed_when_it_is_found_dead(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, args=ARGS) as c, connected(c) as clients:
        assert c.brokered and c.redis is not None, "this test needs the broker"
        async with http() as session:
            status, health = await call(session, "GET", c.url(1) + "/healthz")
        assert status == 200 and health["node"], health
        lobby = await clients.watcher(0, "lobby")
        await clients.player("pat", 1)
        await lobby.wait_event("lobby", "player_joined", lambda d: d["name"] == "pat")
        mark = len(lobby.frames)

        await c.kill(1)
        started = time.monotonic()
        redis = Redis.from_url(c.redis.url)
        try:
            lock = f"{c.prefix}:lobby:lock"
            for _ in range(200):  # a survivor's change under way: after it
                if await redis.set(lock, f"{health['node']}/dying", nx=True, px=60_000):
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the lobby lock stayed taken for 2 s")
        finally:
            await redis.aclose()

        await lobby.wait_event(
            "lobby", "player_left", lambda d: d["name"] == "pat", after=mark, within=GRACE + 5
        )
        assert time.monotonic() - started < GRACE + 5
        quin = await clients.player("quin", 2)  # auth is a lobby change: answered
        reply = await quin.request("play", opponent="*", best_of=1, rules="rps3")
        assert reply.frame["ok"], reply.raw
        clients.assert_sound()
