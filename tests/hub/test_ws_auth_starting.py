"""A player's connection that authenticates while one of its games is being started.

A game's players are seated in the lobby before its row is stored (``GameActions.start_game``,
under the game's lock), so for the moment of the commit the lobby names a game that is neither
live in the table nor in the database yet. ``auth`` subscribes a new connection to the game its
player is seated in; asked in that moment, it answered ``not_found`` (seen in the reliability
run, a seat reconnecting while the hub started its next game).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from hub import keys
from tests.conftest import HubFactory, eventually
from tests.hub.wsclient import Clients, Peer
from tests.storage.test_sqlite_writer import locked


async def reply_to(peer: Peer, rid: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The reply to request ``rid`` and the frames before it, read as they come."""
    frames = []
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await peer.ws.recv())
            if frame["type"] == "reply" and frame["id"] == rid:
                return frame, frames
            frames.append(frame)


async def test_auth_while_the_players_game_is_being_stored_subscribes_to_it(
    start_hub: HubFactory, clients: Clients, db_path: Path
) -> None:
    server = await start_hub()
    hub = server.app[keys.HUB]
    ann = await clients.player(server, "ann")
    assert ann.token is not None
    other = await clients.spectator(server)  # ann's second device
    with locked(db_path):  # the game's row waits for the file, in SQLite's busy handler
        play = await ann.send("play", opponent="computer", best_of=3, rules="rps3")

        async def seated() -> bool:
            return hub.lobby.live.get("ann") is not None

        await eventually(seated)
        game_id = hub.lobby.live["ann"]
        assert game_id not in hub.table.live  # seated, not stored
        auth = await other.send("auth", token=ann.token)

        async def authenticating() -> bool:  # its player's topic taken: next, the game's
            return len(hub.subscriptions.peers("player:ann")) == 2

        await eventually(authenticating)
    started, _ = await reply_to(ann, play)
    assert started["ok"] and started["data"]["game"] == game_id, started
    reply, before = await reply_to(other, auth)
    assert reply["ok"], reply
    topic = f"game:{game_id}"
    assert topic in [s["topic"] for s in reply["data"]["subscribed"]]
    assert ("round_open", 1) in [(f["event"], f["seq"]) for f in before if f.get("topic") == topic]
    # The second device follows the game: ann's move there reaches it.
    moved, _ = await reply_to(ann, await ann.send("move", game=game_id, roll="rock"))
    assert moved["ok"], moved
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await other.ws.recv())
            if frame.get("topic") == topic and frame.get("event") == "round":
                assert frame["data"]["round"] == 1
                break
