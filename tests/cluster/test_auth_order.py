"""``auth``'s reply counts the events of the player's topic sent before it, on a cluster node.

``auth`` subscribes the connection to its player's topic, then reads the player's live game
(on a cluster node from PostgreSQL: an await).  An event of the player's topic published during
that read is sent before the reply (what a request's handling meets goes out before its reply).
The reply gave the topic's seq from before the read, so a client took the event it already had
for one still to come and waited for it: seen once in a clean-clone run of
``test_crash_window.py``, a reconnecting player given ``challenge_withdrawn`` before its reply.
Now the reply's seq is the topic's as the reply goes out: those events are counted in it, and
the next one is seq + 1.  Here the read is held up by a lock the test takes on ``live_seats``
while another player's challenge reaches the topic.
"""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestServer

from hub import keys
from hub.service import GameHub
from tests.conftest import eventually
from tests.hub.wsclient import Clients, register
from tests.postgres import connect_to, lock_waited


async def test_auth_replies_before_an_event_of_its_player_topic_published_meanwhile(
    node: TestServer, clients: Clients
) -> None:
    hub: GameHub = node.app[keys.HUB]
    bob = await clients.player(node, "bob")
    token = await register(node, "ann")
    ann = await clients.spectator(node)
    db = await connect_to(hub.config.db)
    try:
        hold = db.transaction()
        await hold.start()
        await db.execute("LOCK TABLE live_seats IN ACCESS EXCLUSIVE MODE")  # ann's seat read
        sent = asyncio.create_task(ann.request("auth", token=token))
        await eventually(lambda: lock_waited(db, "live_seats"))
        challenge = (await bob.ok("play", opponent="ann", best_of=1, rules="rps3"))["challenge"]
        await hold.rollback()
    finally:
        await db.close()
    reply, before = await sent
    assert reply["ok"], reply
    (mine,) = [s for s in reply["data"]["subscribed"] if s["topic"] == "player:ann"]
    early = [(f["event"], f["seq"]) for f in before if f.get("topic") == "player:ann"]
    assert early == [("challenge", 1)] and mine["seq"] == 1, (early, mine)  # counted in it
    await bob.ok("cancel")
    withdrawn = await ann.event("player:ann", "challenge_withdrawn")
    assert (withdrawn["data"]["id"], withdrawn["seq"]) == (challenge, mine["seq"] + 1)
