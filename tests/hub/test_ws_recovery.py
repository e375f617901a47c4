"""Subscribing again to a topic the connection already has never duplicates events.

``auth`` subscribes a connection to its player's topic and live game at their current seq (its
start); events after it arrive live.  A later ``subscribe`` with ``since`` then answers:

- ``since`` at or after the start: every later event was already sent, so recovered and nothing
  replayed;
- ``since`` before the start and no event since the subscription: recovered, and the events after
  ``since`` replayed in order;
- ``since`` before the start and events since: a snapshot (a replayed event would arrive after
  newer ones, out of order).

Each test reads every frame of the connection under test and checks that its events on the topic
never repeat a seq, rise in order, and leave no gap that a snapshot does not cover.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.conftest import HubFactory
from tests.hub.wsclient import TIMEOUT, Clients, Frame, Peer, start_pvp


class Log:
    """A connection whose every frame is kept, read straight off the socket."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.frames: list[Frame] = []

    async def request(self, op: str, **fields: Any) -> Frame:
        """Send a request; returns its reply, keeping it and every frame before it."""
        rid = await self.peer.send(op, **fields)
        while True:
            frame: Frame = json.loads(await asyncio.wait_for(self.peer.ws.recv(), TIMEOUT))
            self.frames.append(frame)
            if frame["type"] == "reply" and frame["id"] == rid:
                return frame

    async def settle(self) -> None:
        """Read everything sent so far (a harmless request's reply comes after it)."""
        await self.request("unsubscribe", topic="game:-")

    def seqs(self, topic: str) -> list[int]:
        """The seq of every event read on ``topic``, in order."""
        return [f["seq"] for f in self.frames if f["type"] == "event" and f["topic"] == topic]

    def audit(self, topic: str, known: int, latest: int) -> None:
        """No seq twice, in order, and 1..latest covered by ``known``, events and snapshots."""
        seqs = self.seqs(topic)
        assert seqs == sorted(set(seqs)), f"{topic}: a seq twice or out of order: {seqs}"
        covered = set(range(1, known + 1)) | set(seqs)
        for f in self.frames:
            data = f.get("data") if f["type"] == "reply" and f["ok"] else None
            if isinstance(data, dict) and data.get("topic") == topic and not data["recovered"]:
                covered |= set(range(1, data["seq"] + 1))
        assert covered >= set(range(1, latest + 1)), f"{topic}: a gap in {sorted(covered)}"


async def second_connection(server: Any, clients: Clients, token: str) -> tuple[Log, Frame]:
    """Another connection of a player, authenticated; returns it and its ``auth`` reply."""
    log = Log(await clients.spectator(server))
    reply = await log.request("auth", token=token)
    assert reply["ok"], reply
    return log, reply


def subscribed_at(auth: Frame, topic: str) -> int:
    """The seq at which ``auth`` subscribed the connection to ``topic``."""
    seqs = {s["topic"]: s["seq"] for s in auth["data"]["subscribed"]}
    return int(seqs[topic])


# -- a live game: ann moved in round 1 (seq 2) before her second connection authenticated -----


class Game:
    """ann and bob in a game; ann's second connection subscribed to it by ``auth`` at seq 2."""

    def __init__(self, server: Any, bob: Peer, log: Log, game_id: str, epoch: str) -> None:
        self.server, self.bob, self.log = server, bob, log
        self.game_id, self.epoch = game_id, epoch
        self.topic = f"game:{game_id}"

    @classmethod
    async def start(cls, server: Any, clients: Clients) -> Game:
        """Start the game, move once, then authenticate ann's second connection."""
        ann = await clients.player(server, "ann")
        bob = await clients.player(server, "bob")
        game_id = await start_pvp(ann, bob)
        await ann.ok("move", game=game_id, roll="Rock", round=1)
        assert ann.token is not None
        log, auth = await second_connection(server, clients, ann.token)
        assert subscribed_at(auth, f"game:{game_id}") == 2
        spectator = await clients.spectator(server)
        epoch = (await spectator.ok("subscribe", topic=f"game:{game_id}"))["epoch"]
        return cls(server, bob, log, game_id, epoch)

    async def bob_moves(self) -> None:
        """bob ends round 1 (moved, round, round_open: seq 3 to 5), read live by the log."""
        await self.bob.ok("move", game=self.game_id, roll="Paper", round=1)
        await self.log.settle()
        assert self.log.seqs(self.topic)[-3:] == [3, 4, 5]

    async def resubscribe(self, since: int) -> Frame:
        """Subscribe again with ``since`` and read whatever follows the reply."""
        reply = await self.log.request("subscribe", topic=self.topic, since=since, epoch=self.epoch)
        assert reply["ok"], reply
        await self.log.settle()
        return reply


async def test_game_since_at_the_subscriptions_start_is_recovered_with_nothing_replayed(
    start_hub: HubFactory, clients: Clients
) -> None:
    game = await Game.start(await start_hub(), clients)
    await game.bob_moves()
    reply = await game.resubscribe(since=2)
    assert (reply["data"]["recovered"], reply["data"]["seq"]) == (True, 5)
    assert game.log.seqs(game.topic) == [3, 4, 5]
    game.log.audit(game.topic, known=2, latest=5)


async def test_game_since_before_the_start_with_no_event_since_replays_the_missed_events(
    start_hub: HubFactory, clients: Clients
) -> None:
    game = await Game.start(await start_hub(), clients)
    reply = await game.resubscribe(since=0)
    assert (reply["data"]["recovered"], reply["data"]["seq"]) == (True, 2)
    assert game.log.seqs(game.topic) == [1, 2]
    game.log.audit(game.topic, known=0, latest=2)


async def test_game_since_before_the_start_with_events_since_gets_a_snapshot(
    start_hub: HubFactory, clients: Clients
) -> None:
    game = await Game.start(await start_hub(), clients)
    await game.bob_moves()
    reply = await game.resubscribe(since=1)
    data = reply["data"]
    assert (data["recovered"], data["seq"]) == (False, 5)
    assert data["snapshot"]["round"] == 2
    assert game.log.seqs(game.topic) == [3, 4, 5]
    game.log.audit(game.topic, known=1, latest=5)


# -- ann's own topic: a challenge and its withdrawal (seq 1, 2) before the second connection --


class Private:
    """ann's topic, with two events before ann's second connection subscribed to it at seq 2."""

    def __init__(self, bob: Peer, log: Log, epoch: str) -> None:
        self.bob, self.log, self.epoch = bob, log, epoch
        self.topic = "player:ann"

    @classmethod
    async def start(cls, server: Any, clients: Clients) -> Private:
        """bob challenges ann and withdraws; then ann's second connection authenticates."""
        ann = await clients.player(server, "ann")
        bob = await clients.player(server, "bob")
        await bob.ok("play", opponent="ann")
        await bob.ok("cancel")
        await ann.event("player:ann", "challenge_withdrawn")
        assert ann.token is not None
        log, auth = await second_connection(server, clients, ann.token)
        assert subscribed_at(auth, "player:ann") == 2
        epoch = (await ann.ok("subscribe", topic="player:ann"))["epoch"]
        return cls(bob, log, epoch)

    async def challenge(self) -> None:
        """bob challenges ann again (seq 3), read live by the log."""
        await self.bob.ok("play", opponent="ann")
        await self.log.settle()
        assert self.log.seqs(self.topic) == [3]

    async def resubscribe(self, since: int) -> Frame:
        """Subscribe again with ``since`` and read whatever follows the reply."""
        reply = await self.log.request("subscribe", topic=self.topic, since=since, epoch=self.epoch)
        assert reply["ok"], reply
        await self.log.settle()
        return reply


async def test_player_since_at_the_subscriptions_start_is_recovered_with_nothing_replayed(
    start_hub: HubFactory, clients: Clients
) -> None:
    private = await Private.start(await start_hub(), clients)
    await private.challenge()
    reply = await private.resubscribe(since=2)
    assert (reply["data"]["recovered"], reply["data"]["seq"]) == (True, 3)
    assert private.log.seqs(private.topic) == [3]
    private.log.audit(private.topic, known=2, latest=3)


async def test_player_since_before_the_start_with_no_event_since_replays_the_missed_events(
    start_hub: HubFactory, clients: Clients
) -> None:
    private = await Private.start(await start_hub(), clients)
    reply = await private.resubscribe(since=0)
    assert (reply["data"]["recovered"], reply["data"]["seq"]) == (True, 2)
    assert private.log.seqs(private.topic) == [1, 2]
    private.log.audit(private.topic, known=0, latest=2)


async def test_player_since_before_the_start_with_events_since_gets_a_snapshot(
    start_hub: HubFactory, clients: Clients
) -> None:
    private = await Private.start(await start_hub(), clients)
    await private.challenge()
    reply = await private.resubscribe(since=1)
    data = reply["data"]
    assert (data["recovered"], data["seq"], data["snapshot"]) == (False, 3, {})
    assert private.log.seqs(private.topic) == [3]
    private.log.audit(private.topic, known=1, latest=3)


# -- after a recovery, the connection's start is where the replay began -------------------------


async def test_a_replay_moves_the_start_back_so_a_second_identical_subscribe_replays_nothing(
    start_hub: HubFactory, clients: Clients
) -> None:
    game = await Game.start(await start_hub(), clients)
    await game.resubscribe(since=0)
    await game.bob_moves()
    reply = await game.resubscribe(since=0)
    assert (reply["data"]["recovered"], reply["data"]["seq"]) == (True, 5)
    assert game.log.seqs(game.topic) == [1, 2, 3, 4, 5]
    game.log.audit(game.topic, known=0, latest=5)


async def test_a_first_subscription_with_since_replays_the_missed_events(
    start_hub: HubFactory, clients: Clients
) -> None:
    game = await Game.start(await start_hub(), clients)
    log = Log(await clients.spectator(game.server))
    reply = await log.request("subscribe", topic=game.topic, since=1, epoch=game.epoch)
    await log.settle()
    assert (reply["data"]["recovered"], reply["data"]["seq"]) == (True, 2)
    assert log.seqs(game.topic) == [2]
    log.audit(game.topic, known=1, latest=2)
