"""Stopping and restarting the hub: graceful shutdown, and games that outlive the process.

A restart stops the TestServer (its app shuts down and cleans up as in production) and starts a
new hub on the same SQLite file.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import aiohttp
from websockets.exceptions import InvalidStatus

from protocol.ratings import NEW, change, rate_game
from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, Peer, start_pvp


async def get(server: Any, path: str) -> tuple[int, Any]:
    """A GET on the hub: status and JSON body."""
    async with aiohttp.ClientSession() as session, session.get(server.make_url(path)) as resp:
        return resp.status, await resp.json()


async def test_a_game_interrupted_by_a_restart_finishes_on_the_new_hub(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob, best_of=3, rules="rps3")
    topic = f"game:{game_id}"
    spectator = await clients.spectator(server)
    epoch = (await spectator.ok("subscribe", topic=topic))["epoch"]
    await ann.ok("move", game=game_id, roll="Rock")
    _, first_round = await bob.request("move", game=game_id, roll="Scissors")
    await spectator.events(*[(topic, f["event"]) for f in first_round])
    seen = spectator.seqs[topic]
    await spectator.close()
    # ann's move in round 2 is acknowledged before the hub goes away.
    assert await ann.ok("move", game=game_id, roll="Paper") == {"round": 2}

    await server.close()
    for peer in (ann, bob):
        code, _ = await peer.closed()
        assert code == 1001

    server = await start_hub()
    ann = await clients.player(server, "ann", token=ann.token)
    bob = await clients.player(server, "bob", token=bob.token)
    assert bob.seqs[topic] == seen + 1
    watcher = await clients.spectator(server)
    data = await watcher.ok("subscribe", topic=topic, since=seen, epoch=epoch)
    assert data == {
        "topic": topic,
        "epoch": epoch,
        "seq": seen + 1,
        "recovered": True,
        "snapshot": None,
    }
    (moved,) = await watcher.events((topic, "moved"))
    assert moved["data"] == {"round": 2, "player": "ann"}

    _, frames = await bob.request("move", game=game_id, roll="Rock", round=2)
    names = [f["event"] for f in frames]
    assert names == ["moved", "round", "game_over"]
    assert frames[1]["data"]["moves"] == {"ann": "Paper", "bob": "Rock"}
    won, lost = rate_game(NEW, NEW, 1.0)
    assert frames[2]["data"] == {
        "winner": "ann",
        "reason": "won",
        "score": {"ann": 2, "bob": 0},
        "rating_change": {"ann": change(NEW, won), "bob": change(NEW, lost)},
    }
    assert await watcher.events(*[(topic, n) for n in names]) == frames
    assert await ann.events(*[(topic, n) for n in names]) == frames
    status, game = await get(server, f"/api/games/{game_id}")
    assert (status, game["status"], game["epoch"], len(game["rounds"])) == (
        200,
        "finished",
        epoch,
        2,
    )


async def test_a_finished_game_recovers_from_storage_after_a_restart(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer", best_of=1))["game"]
    topic = f"game:{game_id}"
    epoch = (await ann.ok("subscribe", topic=topic))["epoch"]
    _, before = await ann.request("resign", game=game_id)
    await server.close()
    server = await start_hub()
    spectator = await clients.spectator(server)
    data = await spectator.ok("subscribe", topic=topic, since=0, epoch=epoch)
    assert (data["recovered"], data["seq"]) == (True, 2)
    frames = [await spectator.recv() for _ in range(2)]
    assert [f["event"] for f in frames] == ["round_open", "game_over"]
    assert frames[1] == before[0]


async def test_the_lobby_has_a_new_epoch_after_a_restart(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    watcher = await clients.spectator(server)
    old = await watcher.ok("subscribe", topic="lobby")
    await clients.player(server, "ann")
    await server.close()
    server = await start_hub()
    watcher = await clients.spectator(server)
    data = await watcher.ok("subscribe", topic="lobby", since=0, epoch=old["epoch"])
    assert data["recovered"] is False
    assert data["epoch"] != old["epoch"]
    assert data["snapshot"] == {"players": [], "games": [], "queue": []}


def timestamp(iso: str) -> float:
    """An ISO-8601 UTC time of the hub's JSON as unix seconds."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def test_a_round_open_when_the_hub_stopped_gets_a_fresh_full_deadline_on_restart(
    start_hub: HubFactory, clients: Clients
) -> None:
    # Long enough for the round to be open when the hub stops, short enough to wait past.
    server = await start_hub(round_deadline=2)
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    await ann.ok("move", game=game_id, roll="Rock")
    _, game = await get(server, f"/api/games/{game_id}")
    await server.close()
    # The deadline itself is the subject: let it pass while no hub runs.
    await asyncio.sleep(max(0.0, timestamp(game["deadline"]) - time.time()) + 0.05)
    restarted = time.time()

    server = await start_hub(round_deadline=2)
    status, game = await get(server, f"/api/games/{game_id}")
    assert (status, game["status"], game["round"], game["rounds"]) == (200, "playing", 1, [])
    assert timestamp(game["deadline"]) > restarted


async def test_a_move_after_a_restart_counts_in_the_round_open_when_the_hub_stopped(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(round_deadline=2)
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    await ann.ok("move", game=game_id, roll="Rock")
    _, game = await get(server, f"/api/games/{game_id}")
    await server.close()
    await asyncio.sleep(max(0.0, timestamp(game["deadline"]) - time.time()) + 0.05)

    server = await start_hub(round_deadline=2)
    bob = await clients.player(server, "bob", token=bob.token)
    _, frames = await bob.request("move", game=game_id, roll="Paper", round=1)
    assert [f["event"] for f in frames] == ["moved", "round", "round_open"]
    assert frames[1]["data"]["moves"] == {"ann": "Rock", "bob": "Paper"}


async def test_shutdown_closes_every_socket_with_1001_and_healthz_answers_503(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    spectator = await clients.lobby(server)
    assert (await get(server, "/healthz")) == (200, {"status": "ok"})
    # The shutdown phase of the app (what the runner does before cleanup), with the
    # listener still open so the hub can be asked during it.
    await server.app.shutdown()
    for peer in (ann, spectator):
        code, _ = await peer.closed()
        assert code == 1001
    status, body = await get(server, "/healthz")
    assert (status, body["error"]["code"]) == (503, "unavailable")
    try:
        late = await Peer.open(str(server.make_url("/ws")).replace("http", "ws", 1))
    except InvalidStatus as refused:
        assert refused.response.status_code == 503
    else:  # pragma: no cover - the assertion below fails
        await late.close()
        raise AssertionError("a WebSocket opened during shutdown")


async def test_a_move_sent_just_before_shutdown_is_stored(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer"))["game"]
    await ann.send("move", game=game_id, roll="Rock")
    # One turn of the loop lets the hub read the frame; aiohttp ignores bytes that arrive
    # once its shutdown has begun, so a frame still in the kernel then is never seen.
    await asyncio.sleep(0)
    await server.close()
    code, _ = await ann.closed()
    assert code == 1001
    server = await start_hub()
    status, game = await get(server, f"/api/games/{game_id}")
    assert status == 200
    assert [r["moves"]["ann"] for r in game["rounds"]] == ["Rock"]
