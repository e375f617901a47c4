"""Presence (docs/protocol.md): who is active, the grace period, and what leaving takes away."""

from __future__ import annotations

import aiohttp

from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, register, start_pvp


async def test_joining_and_leaving_are_announced_in_the_lobby(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    watcher = await clients.lobby(server)
    ann = await clients.player(server, "Ann")
    (joined,) = await watcher.events(("lobby", "player_joined"))
    assert joined["data"] == {"name": "Ann", "status": "idle"}
    await ann.close()
    (left,) = await watcher.events(("lobby", "player_left"))
    assert left["data"] == {"name": "Ann"}
    snapshot = (await watcher.ok("subscribe", topic="lobby"))["snapshot"]
    assert snapshot["players"] == []


async def test_a_reconnect_within_the_grace_period_emits_no_leave_or_join(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(grace=0.5)
    watcher = await clients.lobby(server)
    ann = await clients.player(server, "ann")
    await watcher.events(("lobby", "player_joined"))
    await ann.close()
    await clients.player(server, "ann", token=ann.token)
    # zed's grace timer starts after ann's would have, so zed's leave comes after ann's would.
    zed = await clients.player(server, "zed")
    await zed.close()
    joined, left = await watcher.events(("lobby", "player_joined"), ("lobby", "player_left"))
    assert (joined["data"]["name"], left["data"]["name"]) == ("zed", "zed")
    snapshot = (await watcher.ok("subscribe", topic="lobby"))["snapshot"]
    assert snapshot["players"] == [{"name": "ann", "status": "idle"}]


async def test_closing_one_of_two_connections_keeps_the_player_active(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(grace=0.2)
    watcher = await clients.lobby(server)
    ann = await clients.player(server, "ann")
    await clients.player(server, "ann", token=ann.token)
    await watcher.events(("lobby", "player_joined"))
    await ann.close()
    zed = await clients.player(server, "zed")
    await zed.close()
    joined, left = await watcher.events(("lobby", "player_joined"), ("lobby", "player_left"))
    assert (joined["data"]["name"], left["data"]["name"]) == ("zed", "zed")


async def test_leaving_withdraws_the_players_open_challenges(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    challenge = (await ann.ok("play", opponent="bob"))["challenge"]
    await bob.events(("player:bob", "challenge"))
    await ann.close()
    (withdrawn,) = await bob.events(("player:bob", "challenge_withdrawn"))
    assert withdrawn["data"] == {"id": challenge}
    assert (await bob.error("accept", challenge=challenge))["code"] == "not_found"


async def test_leaving_takes_the_player_out_of_the_queue(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    watcher = await clients.lobby(server)
    ann = await clients.player(server, "ann")
    await ann.ok("play", opponent="*")
    await watcher.events(("lobby", "player_joined"), ("lobby", "player_status"), ("lobby", "queue"))
    await ann.close()
    emptied, _ = await watcher.events(("lobby", "queue"), ("lobby", "player_left"))
    assert emptied["data"] == {"rules": "rps15", "best_of": 5, "waiting": 0}
    bob = await clients.player(server, "bob")
    assert await bob.ok("play", opponent="*") == {"queued": True}


async def test_cancel_leaves_the_queue_and_withdraws_challenges(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    watcher = await clients.lobby(server)
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    challenge = (await ann.ok("play", opponent="bob"))["challenge"]
    await ann.ok("play", opponent="*")
    assert await ann.ok("cancel") == {}
    statuses = await watcher.events(
        ("lobby", "player_joined"),
        ("lobby", "player_joined"),
        ("lobby", "player_status"),
        ("lobby", "queue"),
        ("lobby", "player_status"),
        ("lobby", "queue"),
    )
    assert [e["data"]["status"] for e in statuses[2::2]] == ["queued", "idle"]
    assert [e["data"]["waiting"] for e in statuses[3::2]] == [1, 0]
    await bob.events(("player:bob", "challenge"))
    (withdrawn,) = await bob.events(("player:bob", "challenge_withdrawn"))
    assert withdrawn["data"] == {"id": challenge}
    assert await ann.ok("cancel") == {}


async def test_a_player_who_leaves_keeps_their_seat(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    watcher = await clients.lobby(server)
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    await ann.close()
    await watcher.event("lobby", "player_left")
    again = await clients.player(server, "ann", token=ann.token)
    (joined,) = await watcher.events(("lobby", "player_joined"))
    assert joined["data"] == {"name": "ann", "status": "playing"}
    await again.ok("move", game=game_id, roll="Rock")
    await bob.events((f"game:{game_id}", "moved"))


async def test_playing_the_computer_shows_as_playing_in_the_lobby(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    watcher = await clients.lobby(server)
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer", best_of=1))["game"]
    _, started, status = await watcher.events(
        ("lobby", "player_joined"), ("lobby", "game_started"), ("lobby", "player_status")
    )
    assert started["data"]["players"] == ["ann", "computer"]
    assert status["data"] == {"name": "ann", "status": "playing"}
    await ann.ok("resign", game=game_id)
    finished, status = await watcher.events(("lobby", "game_finished"), ("lobby", "player_status"))
    assert finished["data"]["winner"] == "computer"
    assert status["data"] == {"name": "ann", "status": "idle"}


async def test_rest_alone_never_makes_a_player_active(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    watcher = await clients.lobby(server)
    token = await register(server, "ann")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            server.make_url("/api/games"),
            json={"opponent": "computer"},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        assert resp.status == 201
    # The game is public, but ann never joined the lobby's players.
    (started,) = await watcher.events(("lobby", "game_started"))
    assert started["data"]["players"] == ["ann", "computer"]
    await watcher.assert_quiet()
    snapshot = (await watcher.ok("subscribe", topic="lobby"))["snapshot"]
    assert snapshot["players"] == []


async def test_a_player_who_left_comes_back_to_a_new_epoch_of_their_private_topic(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    watcher = await clients.lobby(server)
    ann = await clients.player(server, "ann")
    before = await ann.ok("subscribe", topic="player:ann")
    await ann.close()
    await watcher.events(("lobby", "player_joined"), ("lobby", "player_left"))
    again = await clients.player(server, "ann", token=ann.token)
    after = await again.ok(
        "subscribe", topic="player:ann", since=before["seq"], epoch=before["epoch"]
    )
    assert after["epoch"] != before["epoch"]
    assert (after["recovered"], after["snapshot"]) == (False, {})
