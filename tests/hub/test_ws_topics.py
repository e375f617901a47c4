"""Authentication and topics over WebSocket (docs/protocol.md): auth, subscribe, unsubscribe."""

from __future__ import annotations

from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, register


async def test_the_welcome_frame_comes_first(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub(heartbeat=7)
    peer = await clients.spectator(server)
    welcome = peer.welcome
    assert set(welcome) == {"type", "protocol", "server", "session", "heartbeat"}
    assert (welcome["protocol"], welcome["heartbeat"]) == (1, 7)
    assert welcome["server"].startswith("rps-hub/")


async def test_auth_answers_the_player_and_its_subscriptions(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    token = await register(server, "Ann")
    peer = await clients.spectator(server)
    data = await peer.ok("auth", token=token)
    assert data["player"] == "Ann"
    assert [(s["topic"], s["seq"]) for s in data["subscribed"]] == [("player:Ann", 0)]


async def test_a_second_auth_as_the_same_player_is_accepted(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    data = await ann.ok("auth", token=ann.token)
    assert data["player"] == "ann"


async def test_auth_as_another_player_on_the_same_connection_is_a_conflict(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob_token = await register(server, "bob")
    assert (await ann.error("auth", token=bob_token))["code"] == "conflict"
    assert (await ann.ok("subscribe", topic="player:ann"))["topic"] == "player:ann"


async def test_auth_with_a_bad_token_is_unauthorized(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    peer = await clients.spectator(server)
    assert (await peer.error("auth", token="not-a-token"))["code"] == "unauthorized"
    assert (await peer.error("play", opponent="computer"))["code"] == "unauthorized"


async def test_a_spectator_may_not_play_or_move(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer"))["game"]
    spectator = await clients.spectator(server)
    for op, fields in [
        ("play", {"opponent": "computer"}),
        ("play", {"opponent": "ann"}),
        ("play", {"opponent": "*"}),
        ("move", {"game": game_id, "roll": "Rock"}),
        ("resign", {"game": game_id}),
        ("accept", {"challenge": "x"}),
        ("decline", {"challenge": "x"}),
        ("cancel", {}),
    ]:
        assert (await spectator.error(op, **fields))["code"] == "unauthorized", op


async def test_another_players_topic_is_forbidden(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    await register(server, "bob")
    assert (await ann.error("subscribe", topic="player:bob"))["code"] == "forbidden"


async def test_a_spectator_asking_for_a_player_topic_is_unauthorized(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    await register(server, "ann")
    spectator = await clients.spectator(server)
    assert (await spectator.error("subscribe", topic="player:ann"))["code"] == "unauthorized"


async def test_an_unknown_topic_form_is_a_bad_request(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    peer = await clients.spectator(server)
    for topic in ("lobbies", "game:", "games:x", "player", ":ann"):
        assert (await peer.error("subscribe", topic=topic))["code"] == "bad_request", topic


async def test_an_unknown_game_is_not_found(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub()
    peer = await clients.spectator(server)
    assert (await peer.error("subscribe", topic="game:nope"))["code"] == "not_found"


async def test_unsubscribe_stops_events(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub()
    watcher = await clients.lobby(server)
    await clients.player(server, "ann")
    await watcher.events(("lobby", "player_joined"))
    assert await watcher.ok("unsubscribe", topic="lobby") == {}
    await clients.player(server, "bob")
    # bob's player_joined went out before this reply; an unsubscribed watcher never sees it.
    await watcher.assert_quiet()


async def test_unsubscribing_another_players_topic_leaves_ones_own(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    assert await ann.ok("unsubscribe", topic="player:bob") == {}
    challenge = (await bob.ok("play", opponent="ann"))["challenge"]
    (event,) = await ann.events(("player:ann", "challenge"))
    assert event["data"]["id"] == challenge


async def test_unsubscribing_ones_own_topic_in_any_case_stops_it(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    assert await ann.ok("unsubscribe", topic="player:ANN") == {}
    await bob.ok("play", opponent="ann")
    await ann.assert_quiet()


async def test_unsubscribing_a_topic_never_subscribed_is_fine(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    peer = await clients.spectator(server)
    assert await peer.ok("unsubscribe", topic="game:whatever") == {}


async def test_subscribing_twice_answers_afresh_and_never_duplicates_events(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    watcher = await clients.spectator(server)
    first = await watcher.ok("subscribe", topic="lobby")
    await clients.player(server, "ann")
    await watcher.events(("lobby", "player_joined"))
    again = await watcher.ok("subscribe", topic="lobby")
    assert (again["seq"], again["recovered"], again["epoch"]) == (1, False, first["epoch"])
    assert again["snapshot"]["players"] == [{"name": "ann", "status": "idle"}]
    await clients.player(server, "bob")
    (joined,) = await watcher.events(("lobby", "player_joined"))
    assert joined["seq"] == 2
    await watcher.assert_quiet()
