"""The seams of ``GameHub`` behind one interface: each test runs against a hub in one process
(the in-process parts, SQLite) and against a cluster node (the Redis/PostgreSQL parts: a fresh
PostgreSQL schema and a private ``redis-server``), asking the part itself through its interface
(``hub.presence``, ...) while real clients act over the hub's WebSocket."""

from __future__ import annotations

import functools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from hub import keys
from hub.app import create_app
from hub.config import Config
from hub.service import GameHub
from protocol.lobby import PlayerStatus
from tests.cluster.redisserver import RedisServer
from tests.conftest import eventually
from tests.hub.wsclient import Clients
from tests.postgres import fresh_schema, schema_url

GRACE = 0.3


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as running:
        yield running


@pytest.fixture(params=["local", "cluster"])
async def server(
    request: pytest.FixtureRequest,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    redis: RedisServer,
    tmp_path: Path,
) -> AsyncIterator[TestServer]:
    """A running hub: one process on SQLite, or one node of a cluster on PostgreSQL and Redis."""
    settings = functools.partial(Config, round_deadline=0.0, grace=GRACE, summary_interval=0.0)
    if request.param == "local":
        yield await aiohttp_server(create_app(settings(db=str(tmp_path / "hub.db"))))
        return
    async with fresh_schema() as schema:
        broker = f"{redis.url}?prefix=s{secrets.token_hex(4)}"
        config = settings(db=schema_url(schema), broker=broker)
        running = await aiohttp_server(create_app(config))
        assert hub_of(running).node is not None  # a cluster node
        yield running
        await running.close()


def hub_of(server: TestServer) -> GameHub:
    return server.app[keys.HUB]


async def test_presence_a_player_is_active_while_connected_and_for_the_grace_after(
    server: TestServer, clients: Clients
) -> None:
    presence = hub_of(server).presence
    lobby = await clients.lobby(server)
    ann = await clients.player(server, "Ann")
    await lobby.event("lobby", "player_joined")

    async def shown(expected: list[tuple[str, PlayerStatus]]) -> bool:
        return presence.players() == expected

    await eventually(lambda: shown([("Ann", PlayerStatus.IDLE)]))
    assert presence.status("ann") is PlayerStatus.IDLE  # any spelling
    assert presence.status("bob") is None

    await ann.ok("play", opponent="computer")
    await eventually(lambda: shown([("Ann", PlayerStatus.PLAYING)]))

    await ann.close()  # back within the grace: nobody saw Ann leave
    again = await clients.player(server, "Ann", token=ann.token)
    await eventually(lambda: shown([("Ann", PlayerStatus.PLAYING)]))
    await again.close()
    left = await lobby.event("lobby", "player_left")
    assert left["data"] == {"name": "Ann"}
    await eventually(lambda: shown([]))
    assert presence.status("Ann") is None


async def test_feed_sections_publish_in_order_and_the_snapshot_follows_the_events(
    server: TestServer, clients: Clients
) -> None:
    hub = hub_of(server)
    feed = hub.feed
    spectator = await clients.lobby(server)
    ann = await clients.player(server, "ann")
    await spectator.event("lobby", "player_joined")
    async with feed.section():  # a change of the lobby that changes nothing
        pass
    await hub.enqueue("ann", 3, "rps3")  # its events: ann's status, then the queue's pool
    status, pool = await spectator.events(("lobby", "player_status"), ("lobby", "queue"))
    assert status["data"] == {"name": "ann", "status": "queued"}
    expected = {
        "players": [{"name": "ann", "status": "queued"}],
        "games": [],
        "queue": [pool["data"]],
    }

    async def caught_up() -> bool:
        return feed.lobby_stream.seq == pool["seq"]

    await eventually(caught_up)
    assert feed.snapshot() == expected
    later = await clients.spectator(server)
    data = await later.ok("subscribe", topic="lobby")
    assert (data["seq"], data["snapshot"]) == (pool["seq"], expected)
    assert feed.player_stream("ann").topic == "player:ann"

    await hub.cancel("ann")
    game_id = (await ann.ok("play", opponent="computer"))["game"]
    await ann.ok("move", game=game_id, roll="Rock", round=1)
    updated = await spectator.event("lobby", "game_updated")
    assert (updated["data"]["id"], updated["data"]["round"]) == (game_id, 2)

    async def summarized() -> bool:
        return [g["round"] for g in feed.snapshot()["games"]] == [2]

    await eventually(summarized)


async def test_games_a_move_is_current_stored_and_delivered_and_a_deadline_ends_a_round(
    server: TestServer, clients: Clients
) -> None:
    hub = hub_of(server)
    games = hub.games
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer", best_of=3, rules="rps3"))["game"]
    watcher = await clients.spectator(server)
    await watcher.ok("subscribe", topic=f"game:{game_id}")
    counted, game = await hub.move(game_id, "ann", "Rock", 1, transport="ws")
    assert (counted, game.round) == (1, 2)
    played = await watcher.event(f"game:{game_id}", "round")
    assert played["data"]["moves"]["ann"] == "Rock"
    async with hub.table.lock(game_id):
        assert (await games.current(game_id, 0)).round == 2  # the copy to change
        assert (await games.current(game_id, games.attempts - 1)).round == 2
    assert (await games.game(game_id)).round == 2
    assert (await games.view(game_id))["round"] == 2
    again = await clients.spectator(server)  # recovers the move from its seq
    data = await again.ok("subscribe", topic=f"game:{game_id}", since=1, epoch=game.epoch)
    assert data["recovered"] and (await again.event(f"game:{game_id}", "round")) == played
    await games.expire(game_id, 2)  # not due: nothing happens
    assert (await games.game(game_id)).round == 2

    timed = await hub.start_game(("bob", "computer"), hub.ruleset("rps3"), 3, round_seconds=0.2)
    await watcher.ok("subscribe", topic=f"game:{timed.id}")
    over = await watcher.event(f"game:{timed.id}", "game_over")  # two rounds, both timed out
    assert over["data"]["winner"] == "computer"
    assert (await games.game(timed.id)).is_over
