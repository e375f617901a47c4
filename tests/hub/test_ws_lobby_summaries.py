"""The lobby's ``game_updated``: at most one per game per ``summary_interval``, the latest score."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, Frame, Peer

INTERVAL = 3.0  # seconds; the rounds below take far less


async def watched_game(server: object, clients: Clients) -> tuple[Peer, Peer, str, Frame]:
    """A lobby watcher, and ann playing the computer (rps3, best of 15); the game's start seen."""
    watcher = await clients.lobby(server)
    ann = await clients.player(server, "ann")
    game = (await ann.ok("play", opponent="computer", best_of=15, rules="rps3"))["game"]
    started = await watcher.event("lobby", "game_started")
    assert started["data"]["id"] == game
    return watcher, ann, game, started


async def test_quick_rounds_bring_one_summary_at_once_then_the_latest_one_interval_later(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(summary_interval=INTERVAL)
    watcher, ann, game, _ = await watched_game(server, clients)
    await ann.ok("move", game=game, roll="rock")
    first = await watcher.event("lobby", "game_updated")  # at once: none sent before
    assert first["data"]["round"] == 2
    loop = asyncio.get_running_loop()
    sent = loop.time()
    for n in (2, 3, 4):
        await ann.ok("move", game=game, roll="rock", round=n)
    # Nothing for the lobby until the interval is up, then one summary with round 5 open.
    await watcher.assert_quiet()
    later = await watcher.event("lobby", "game_updated")
    assert loop.time() - sent >= INTERVAL - 0.5
    assert later["data"]["round"] == 5
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.make_url(f"/api/games/{game}")) as resp,
    ):
        stored = await resp.json()
    assert later["data"]["score"] == stored["score"]
    await watcher.assert_quiet()


async def test_a_summary_interval_of_0_sends_one_after_every_round(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(summary_interval=0)
    watcher, ann, game, _ = await watched_game(server, clients)
    for n in (1, 2, 3):
        await ann.ok("move", game=game, roll="rock", round=n)
        update = await watcher.event("lobby", "game_updated")
        assert update["data"]["round"] == n + 1


async def test_a_live_games_lobby_summary_counts_its_spectators_but_not_its_seats(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(summary_interval=0)
    watcher, _, game, started = await watched_game(server, clients)
    assert started["data"]["spectators"] == 0  # ann's own connection is a seat's
    bob = await clients.spectator(server)
    await bob.ok("subscribe", topic=f"game:{game}")
    assert (await watcher.event("lobby", "game_updated"))["data"]["spectators"] == 1
    cy = await clients.spectator(server)
    await cy.ok("subscribe", topic=f"game:{game}")
    assert (await watcher.event("lobby", "game_updated"))["data"]["spectators"] == 2
    late = await clients.spectator(server)
    snapshot = await late.ok("subscribe", topic="lobby")
    assert [g["spectators"] for g in snapshot["snapshot"]["games"]] == [2]
    await bob.ok("unsubscribe", topic=f"game:{game}")
    assert (await watcher.event("lobby", "game_updated"))["data"]["spectators"] == 1
    await cy.close()
    assert (await watcher.event("lobby", "game_updated"))["data"]["spectators"] == 0
