"""A lobby put right against the stored live games (``hub.cluster.repair``), on a cluster node in
the test's process (a fresh PostgreSQL schema, a private ``redis-server``).

The two halves of a game's start or end are made apart here, as a node that died between them
would leave them: the game is stored in PostgreSQL through the node's own storage, its lobby part
is not made.  The node's reconcile (which every node runs every 5 s) then tells what was missing,
once: a later telling by the node that stored the change adds nothing."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestServer

from hub import keys
from hub.cluster.feed import ClusterFeed
from hub.cluster.presence import ClusterPresence
from hub.cluster.repair import repair
from hub.service import GameHub
from protocol.game import Game
from tests.conftest import eventually
from tests.hub.wsclient import Clients, Peer, start_pvp


def hub_of(node: TestServer) -> GameHub:
    hub: GameHub = node.app[keys.HUB]
    assert isinstance(hub.presence, ClusterPresence), "a cluster node"
    return hub


async def has_live_games(hub: GameHub) -> bool:
    return bool(await hub.storage.live_game_ids())


async def lobby_until(lobby: Peer, name: str) -> list[tuple[str, str, object]]:
    """The lobby's events up to the next ``player_joined`` of ``name``: (event, data)."""
    seen = []
    while True:
        frame = await lobby.event("lobby")
        seen.append((frame["event"], frame["data"]))
        if frame["event"] == "player_joined" and frame["data"]["name"] == name:
            return seen


async def test_a_game_ended_without_the_lobby_hearing_is_told_once(
    node: TestServer, clients: Clients
) -> None:
    hub = hub_of(node)
    ann, bob = await clients.player(node, "ann"), await clients.player(node, "bob")
    game_id = await start_pvp(ann, bob, best_of=3, rules="rps3")
    lobby = await clients.lobby(node)

    # Stored finished by "another node" that died before its lobby change: nothing in the lobby.
    game = await hub.storage.game(game_id)
    assert game is not None
    effects = game.resign("bob", now=hub.now())
    await hub.storage.save_game(game, hub._events(game_id, hub.table.seqs[game_id], effects))
    await hub.presence.reconcile()  # as every node's tidy does every 5 s

    finished = await lobby.event("lobby", "game_finished")
    assert (finished["data"]["id"], finished["data"]["winner"]) == (game_id, "ann")
    statuses = [await lobby.event("lobby", "player_status") for _ in range(2)]
    assert sorted((s["data"]["name"], s["data"]["status"]) for s in statuses) == [
        ("ann", "idle"),
        ("bob", "idle"),
    ]
    assert (await ann.ok("play", opponent="bob"))["challenge"]  # not "conflict": free again

    await hub._finished(game)  # the storing node's own telling, late: it tells nothing more
    await hub.presence.reconcile()  # and the lobby agrees now: nothing to put right
    await clients.player(node, "carl")  # a marker after both
    later = await lobby_until(lobby, "carl")
    assert [e for e, _ in later if e in ("game_finished", "game_started")] == [], later


async def test_a_game_started_without_the_lobby_hearing_is_told_and_its_challenge_withdrawn(
    node: TestServer, clients: Clients
) -> None:
    hub = hub_of(node)
    ann, bob = await clients.player(node, "ann"), await clients.player(node, "bob")
    challenge = (await bob.ok("play", opponent="ann", best_of=1, rules="rps3"))["challenge"]
    await ann.event("player:ann", "challenge")
    lobby = await clients.lobby(node)

    # Stored by "another node" accepting it, which died before its lobby change.
    game, effects = Game.start(
        id="found", rules=hub.ruleset("rps3"), best_of=1, players=("bob", "ann"),
        now=hub.now(), rng=hub.rng, epoch="e1",
    )  # fmt: skip
    await hub.storage.create_game(game, hub._events(game.id, 0, effects))
    await hub.presence.reconcile()

    told = await ann.event("player:ann", "challenge_withdrawn")
    assert told["data"]["id"] == challenge
    started = await ann.event("player:ann", "game_started")
    assert (started["data"]["id"], started["data"]["players"]) == ("found", ["bob", "ann"])
    assert (await bob.event("player:bob", "game_started"))["data"]["id"] == "found"
    summary = await lobby.event("lobby", "game_started")
    assert summary["data"]["id"] == "found"
    playing = [await lobby.event("lobby", "player_status") for _ in range(2)]
    assert {(p["data"]["name"], p["data"]["status"]) for p in playing} == {
        ("ann", "playing"),
        ("bob", "playing"),
    }
    refused = await ann.error("accept", challenge=challenge)  # taken with the game's start
    assert refused["code"] == "not_found"

    # The game is the lobby's now: its seats follow it, and it plays to its end.
    await bob.ok("subscribe", topic="game:found")
    await ann.ok("subscribe", topic="game:found")
    await bob.ok("move", game="found", roll="Scissors", round=1)
    await ann.ok("move", game="found", roll="Rock", round=1)
    over = await lobby.event("lobby", "game_finished")
    assert (over["data"]["id"], over["data"]["winner"]) == ("found", "ann")
    await clients.player(node, "carl")
    later = await lobby_until(lobby, "carl")
    assert [e for e, _ in later if e == "game_started"] == [], later


async def test_presence_is_put_right_without_postgresql(node: TestServer, clients: Clients) -> None:
    hub = hub_of(node)
    lobby = await clients.lobby(node)
    ann = await clients.player(node, "ann")
    await lobby.event("lobby", "player_joined")
    await hub.storage.close()  # PostgreSQL gone for this node: reads fail from now on
    await hub.presence.reconcile()  # compares nothing with the games, puts presence right
    await hub.presence.drop_node("ghost")  # a dead node's connections still leave
    await ann.ok("cancel")  # lobby changes go on (they need Redis only)
    assert [name for name, _ in hub.presence.players()] == ["ann"]


async def test_a_game_whose_end_the_lobby_missed_does_not_keep_its_player_from_the_computer(
    node: TestServer, clients: Clients
) -> None:
    """PostgreSQL decides the seats: once it has the game's end, its player may start another
    game at once, and the lobby hears of the end first, then of the new start."""
    hub = hub_of(node)
    ann = await clients.player(node, "ann")
    first = (await ann.ok("play", opponent="computer", best_of=3, rules="rps3"))["game"]
    lobby = await clients.lobby(node)

    # Stored finished by "another node" that died before its lobby change: the lobby still
    # seats ann in the first game.
    game = await hub.storage.game(first)
    assert game is not None
    effects = game.resign("ann", now=hub.now())
    await hub.storage.save_game(game, hub._events(first, hub.table.seqs[first], effects))
    assert hub.lobby.live == {"ann": first}

    reply, before = await ann.request("play", opponent="computer", best_of=3, rules="rps3")
    assert reply["ok"], reply
    second = reply["data"]["game"]
    assert second != first
    assert [f["data"]["id"] for f in before if f.get("event") == "game_started"] == [second]
    told = [await lobby.event("lobby") for _ in range(4)]
    assert [(f["event"], f["data"].get("id") or f["data"]["name"]) for f in told] == [
        ("game_finished", first),
        ("player_status", "ann"),
        ("game_started", second),
        ("player_status", "ann"),
    ], told
    assert [told[1]["data"]["status"], told[3]["data"]["status"]] == ["idle", "playing"]
    await hub.presence.reconcile()  # the lobby agrees with the store: nothing more to tell
    await clients.player(node, "bob")
    later = await lobby_until(lobby, "bob")
    assert [e for e, _ in later if e in ("game_started", "game_finished")] == [], later


async def test_a_start_the_repair_told_first_is_told_once(
    node: TestServer, clients: Clients
) -> None:
    """A game against the computer is stored before the lobby is told of it; a repair that
    finds it in between tells it, and the start's own lobby change then tells nothing."""
    hub = hub_of(node)
    ann = await clients.player(node, "ann")
    lobby = await clients.lobby(node)
    feed = hub.feed
    assert isinstance(feed, ClusterFeed)

    holding = asyncio.Event()

    async def repair_when_stored() -> None:
        async with feed.section():  # the start's own lobby change waits for this one
            holding.set()
            await eventually(lambda: has_live_games(hub))  # stored without waiting for it
            await repair(hub)  # what a reconcile does, on this node or another

    repairing = asyncio.create_task(repair_when_stored())
    await holding.wait()
    play = asyncio.create_task(ann.request("play", opponent="computer", best_of=3, rules="rps3"))
    await repairing
    reply, before = await play
    assert reply["ok"], reply
    game_id = reply["data"]["game"]
    assert [f["data"]["id"] for f in before if f.get("event") == "game_started"] == [game_id]
    await ann.assert_quiet()
    started = await lobby.event("lobby", "game_started")
    assert started["data"]["id"] == game_id
    await clients.player(node, "bob")
    later = await lobby_until(lobby, "bob")
    assert [e for e, _ in later if e == "game_started"] == [], later
    await ann.ok("resign", game=game_id)
    assert (await lobby.event("lobby", "game_finished"))["data"]["id"] == game_id
