"""A game against the computer waits for the database outside the lobby's lock.

On a cluster PostgreSQL decides who sits where (a seat is a row: one live game per player), so
a game against the computer is stored first and the lobby is told of it after, in a change of
its own.  When the game was stored inside that change, every other change of the lobby, on
every node, waited for the database's write: here, a write held up by a lock the test takes on
``games`` kept a challenge on another node waiting until it was refused (``unavailable`` after
5 s).  Needs the broker.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.cluster.harness import cluster
from tests.cluster.harness_clients import connected
from tests.conftest import eventually
from tests.postgres import connect_to, lock_waited


async def test_a_start_waiting_on_the_database_holds_no_other_lobby_change_up(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as c, connected(c) as clients:
        assert c.brokered, "this test needs the broker"
        ann = await clients.player("ann", 0)
        bob = await clients.player("bob", 1)
        carl = await clients.player("carl", 2)
        lobby = await clients.watcher(2, "lobby")
        db = await connect_to(c.db)
        try:
            hold = db.transaction()
            await hold.start()
            await db.execute("LOCK TABLE games IN SHARE MODE")  # new games wait for it
            play = asyncio.create_task(
                ann.request("play", opponent="computer", best_of=1, rules="rps3", within=30)
            )
            await eventually(lambda: lock_waited(db, "games"))  # the game's insert waits

            challenge = await bob.ok("play", opponent="carl", best_of=1, rules="rps3")
            told = await carl.wait_event("player:carl", "challenge")
            assert told.data["id"] == challenge["challenge"]
            assert not play.done(), "the game's start did not wait for the database"
            await hold.rollback()
        finally:
            await db.close()
        reply = await play
        assert reply.frame["ok"], reply.raw
        game_id = reply.data["game"]
        await ann.wait_event("player:ann", "game_started", lambda d: d["id"] == game_id)
        await lobby.wait_event("lobby", "game_started", lambda d: d["id"] == game_id)
        await ann.ok("resign", game=game_id)
        await ann.wait_event(f"game:{game_id}", "game_over")
        await lobby.wait_event("lobby", "game_finished", lambda d: d["id"] == game_id)
        clients.assert_sound()
