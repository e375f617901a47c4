"""Player against player over WebSocket: who plays whom: a live game's conflicts, the queue and
challenges."""

from __future__ import annotations

from tests.conftest import HubFactory
from tests.hub.wsclient import Clients, names, register, start_pvp


async def test_playing_while_in_a_live_game_is_a_conflict_naming_the_game(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    for opponent in ("computer", "*"):
        error = await ann.error("play", opponent=opponent)
        assert error["code"] == "conflict"
        assert game_id in error["message"]
    cid = await clients.player(server, "cid")
    error = await bob.error("play", opponent="cid")
    assert (error["code"], game_id in error["message"]) == ("conflict", True)
    # A challenge to a playing player cannot be accepted by them either.
    challenge = (await cid.ok("play", opponent="ann"))["challenge"]
    error = await ann.error("accept", challenge=challenge)
    assert (error["code"], game_id in error["message"]) == ("conflict", True)


async def test_two_queued_players_with_the_same_rules_and_best_of_are_paired(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    assert await ann.ok("play", opponent="*", best_of=3, rules="rpsls") == {"queued": True}
    reply, frames = await bob.request("play", opponent="*", best_of=3, rules="rpsls")
    game_id = reply["data"]["game"]
    assert reply["data"] == {"queued": True, "game": game_id}
    assert names(frames) == [("player:bob", "game_started"), (f"game:{game_id}", "round_open")]
    game = frames[0]["data"]
    # The first queued takes the first seat.
    assert (game["players"], game["rules"], game["best_of"]) == (["ann", "bob"], "rpsls", 3)
    started = await ann.events(("player:ann", "game_started"), (f"game:{game_id}", "round_open"))
    assert started[0]["data"] == game
    await ann.ok("move", game=game_id, roll="Spock")
    _, frames = await bob.request("move", game=game_id, roll="Lizard")
    assert frames[2]["data"]["winner"] == "bob"


async def test_queued_players_with_different_rules_or_best_of_are_not_paired(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    cid = await clients.player(server, "cid")
    assert await ann.ok("play", opponent="*", best_of=3, rules="rps3") == {"queued": True}
    assert await bob.ok("play", opponent="*", best_of=5, rules="rps3") == {"queued": True}
    assert await cid.ok("play", opponent="*", best_of=3, rules="rps15") == {"queued": True}
    lobby = await clients.spectator(server)
    snapshot = (await lobby.ok("subscribe", topic="lobby"))["snapshot"]
    assert snapshot == {
        "players": [
            {"name": "ann", "status": "queued"},
            {"name": "bob", "status": "queued"},
            {"name": "cid", "status": "queued"},
        ],
        "games": [],
        "queue": [
            {"rules": "rps15", "best_of": 3, "waiting": 1},
            {"rules": "rps3", "best_of": 3, "waiting": 1},
            {"rules": "rps3", "best_of": 5, "waiting": 1},
        ],
    }
    # A match for bob pairs with bob, not with the earlier ann.
    dan = await clients.player(server, "dan")
    reply, _ = await dan.request("play", opponent="*", best_of=5, rules="rps3")
    game_id = reply["data"]["game"]
    game = await dan.ok("subscribe", topic=f"game:{game_id}")
    assert game["snapshot"]["players"] == ["bob", "dan"]


async def test_challenging_yourself_is_a_bad_request(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    assert (await ann.error("play", opponent="ANN"))["code"] == "bad_request"


async def test_challenging_an_unknown_or_inactive_player_is_not_found(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    assert (await ann.error("play", opponent="nobody"))["code"] == "not_found"
    await register(server, "bob")  # registered, never connected
    assert (await ann.error("play", opponent="bob"))["code"] == "not_found"


async def test_a_second_challenge_to_the_same_player_returns_the_open_one(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    first = (await ann.ok("play", opponent="bob"))["challenge"]
    assert await ann.ok("play", opponent="Bob", best_of=7) == {"challenge": first}
    (challenge,) = await bob.events(("player:bob", "challenge"))
    assert challenge["data"]["id"] == first
    await bob.assert_quiet()  # the repeat sent no second event


async def test_accepting_or_declining_someone_elses_challenge_is_forbidden(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    await clients.player(server, "bob")
    cid = await clients.player(server, "cid")
    challenge = (await ann.ok("play", opponent="bob"))["challenge"]
    assert (await cid.error("accept", challenge=challenge))["code"] == "forbidden"
    assert (await cid.error("decline", challenge=challenge))["code"] == "forbidden"
    assert (await ann.error("accept", challenge=challenge))["code"] == "forbidden"


async def test_accepting_or_declining_an_unknown_challenge_is_not_found(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    assert (await ann.error("accept", challenge="no-such-id"))["code"] == "not_found"
    assert (await ann.error("decline", challenge="no-such-id"))["code"] == "not_found"


async def test_declining_tells_the_challenger_who_declined(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    challenge = (await ann.ok("play", opponent="bob"))["challenge"]
    reply, frames = await bob.request("decline", challenge=challenge)
    assert reply["data"] == {}
    assert names(frames) == [("player:bob", "challenge")]
    (declined,) = await ann.events(("player:ann", "challenge_declined"))
    assert declined["data"] == {"id": challenge, "by": "bob"}
    assert (await bob.error("accept", challenge=challenge))["code"] == "not_found"


async def test_a_declined_challenge_can_be_made_again(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    bob = await clients.player(server, "bob")
    first = (await ann.ok("play", opponent="bob"))["challenge"]
    await bob.ok("decline", challenge=first)
    second = (await ann.ok("play", opponent="bob"))["challenge"]
    assert second != first
    assert (await bob.ok("accept", challenge=second))["game"]


async def test_every_connection_of_a_seat_follows_the_game(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    phone = await clients.player(server, "ann", token=ann.token)
    bob = await clients.player(server, "bob")
    game_id = await start_pvp(ann, bob)
    topic = f"game:{game_id}"
    await phone.events(("player:ann", "game_started"), (topic, "round_open"))
    _, frames = await phone.request("move", game=game_id, roll="Rock")
    assert await ann.events((topic, "moved")) == frames
    assert await bob.events((topic, "moved")) == frames


async def test_queueing_twice_never_pairs_a_player_with_themselves(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    assert await ann.ok("play", opponent="*") == {"queued": True}
    assert await ann.ok("play", opponent="*") == {"queued": True}
    bob = await clients.player(server, "bob")
    reply, _ = await bob.request("play", opponent="*")
    assert reply["data"]["queued"] is True
    assert "game" in reply["data"]


async def test_starting_another_game_takes_a_player_out_of_the_queue(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    await ann.ok("play", opponent="*")
    await ann.ok("play", opponent="computer")
    bob = await clients.player(server, "bob")
    assert await bob.ok("play", opponent="*") == {"queued": True}


async def test_play_with_a_bad_best_of_or_unknown_rules_is_a_bad_request(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    await clients.player(server, "bob")
    for opponent in ("computer", "bob", "*"):
        for best_of in (4, 0, 17, "5", True, 5.0):
            error = await ann.error("play", opponent=opponent, best_of=best_of)
            assert error["code"] == "bad_request", (opponent, best_of)
            assert "'best_of'" in error["message"]
        error = await ann.error("play", opponent=opponent, rules="chess")
        assert error["code"] == "bad_request", opponent
        assert "rps15" in error["message"]
    # Nothing was started, queued or challenged.
    assert await ann.ok("play", opponent="computer") != {}
