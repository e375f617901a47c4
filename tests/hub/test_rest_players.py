"""The REST API's players and leaderboard, on a real hub with a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hub.restclient import Rest, new_game
from tests.hub.seed import store_won_game
from tests.hub.wsclient import player

# -- players ------------------------------------------------------------------------------


async def test_registering_answers_201_with_name_token_and_created(rest: Rest) -> None:
    status, answer = await rest.call("POST", "/api/players", {"name": "Ann_1-x"})
    assert status == 201
    assert set(answer) == {"name", "token", "created"}
    assert answer["name"] == "Ann_1-x"
    assert len(answer["token"]) >= 43  # 32 random bytes, url-safe base64
    assert answer["created"].endswith("Z")


@pytest.mark.parametrize(
    "name", ["a" * 33, "", "has space", "ann!", "änn", 42, None, ["ann"], True]
)
async def test_a_bad_name_is_a_bad_request(rest: Rest, name: object) -> None:
    assert await rest.error("POST", "/api/players", {"name": name}) == (400, "bad_request")


async def test_a_name_of_32_characters_is_accepted(rest: Rest) -> None:
    status, _ = await rest.call("POST", "/api/players", {"name": "a" * 32})
    assert status == 201


async def test_a_name_taken_in_another_case_is_a_conflict(rest: Rest) -> None:
    await rest.register("Ann")
    assert await rest.error("POST", "/api/players", {"name": "aNN"}) == (409, "conflict")


@pytest.mark.parametrize("name", ["computer", "Computer"])
async def test_the_name_computer_is_taken(rest: Rest, name: str) -> None:
    assert await rest.error("POST", "/api/players", {"name": name}) == (409, "conflict")


async def test_a_player_lookup_ignores_case_and_answers_the_registered_spelling(
    rest: Rest,
) -> None:
    await rest.register("MixedCase")
    answer = await rest.ok("GET", "/api/players/mixedcase")
    assert answer == {
        "name": "MixedCase",
        "created": answer["created"],
        "active": False,
        "games": 0,
        "wins": 0,
        "losses": 0,
        "draws": 0,
        "rounds_won": 0,
        "rounds_lost": 0,
        "rating": {"value": 1500, "deviation": 350, "provisional": True},
    }


async def test_an_unknown_player_is_not_found(rest: Rest) -> None:
    assert await rest.error("GET", "/api/players/nobody") == (404, "not_found")


async def test_the_computer_is_not_found_as_a_player(rest: Rest) -> None:
    assert await rest.error("GET", "/api/players/computer") == (404, "not_found")


async def test_a_player_record_counts_finished_games_and_rounds(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token, best_of=1)
    finished = await rest.play_to_the_end(game["id"], token)
    record = await rest.ok("GET", "/api/players/ann")
    won = finished["winner"] == "ann"
    assert (record["games"], record["wins"], record["losses"]) == (1, int(won), int(not won))
    assert record["rounds_won"] == int(won)
    assert record["rounds_lost"] == int(not won)


async def test_active_players_are_only_the_connected_ones_with_their_status(rest: Rest) -> None:
    await rest.register("offline_one")
    ann = await player(rest.server, "ann")
    try:
        answer = await rest.ok("GET", "/api/players?active=true")
        assert answer == {"players": [{"name": "ann", "status": "idle"}], "next": None}
    finally:
        await ann.close()


async def test_every_player_is_listed_without_active_offline_ones_as_offline(rest: Rest) -> None:
    await rest.register("Bob")
    ann = await player(rest.server, "ann")
    try:
        answer = await rest.ok("GET", "/api/players")
        assert answer == {
            "players": [{"name": "ann", "status": "idle"}, {"name": "Bob", "status": "offline"}],
            "next": None,
        }
    finally:
        await ann.close()


async def test_the_players_list_pages_through_every_player_with_next_cursors(rest: Rest) -> None:
    names = ["e", "B", "a", "D", "c"]
    for name in names:
        await rest.register(name)
    seen: list[str] = []
    pages = 0
    path = "/api/players?limit=2"
    while True:
        answer = await rest.ok("GET", path)
        pages += 1
        seen += [p["name"] for p in answer["players"]]
        if answer["next"] is None:
            break
        path = f"/api/players?limit=2&before={answer['next']}"
    assert seen == ["a", "B", "c", "D", "e"]
    assert pages == 3


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
async def test_a_players_limit_out_of_range_is_a_bad_request(rest: Rest, limit: str) -> None:
    assert await rest.error("GET", f"/api/players?limit={limit}") == (400, "bad_request")


# -- leaderboard --------------------------------------------------------------------------


async def test_the_leaderboard_ranks_by_wins_then_name_ignoring_case_without_computer(
    rest: Rest, db_path: Path
) -> None:
    for name in ("zed", "Amy", "bob", "cat"):
        await rest.register(name)
    await store_won_game(db_path, "g1", "zed", "cat")
    await store_won_game(db_path, "g2", "zed", "bob")
    await store_won_game(db_path, "g3", "bob", "Amy")
    await store_won_game(db_path, "g4", "Amy", "cat")
    token = await rest.register("dan")
    game = await new_game(rest, token, best_of=1)
    await rest.play_to_the_end(game["id"], token)
    answer = await rest.ok("GET", "/api/leaderboard")
    leaders = [(r["name"], r["wins"], r["games"]) for r in answer["leaders"]]
    assert "computer" not in [name for name, _, _ in leaders]
    others = [row for row in leaders if row[0] != "dan"]
    assert others == [("zed", 2, 2), ("Amy", 1, 2), ("bob", 1, 2), ("cat", 0, 2)]


async def test_the_leaderboard_limit_cuts_the_list(rest: Rest, db_path: Path) -> None:
    for name in ("ann", "bob"):
        await rest.register(name)
    await store_won_game(db_path, "g1", "ann", "bob")
    answer = await rest.ok("GET", "/api/leaderboard?limit=1")
    assert answer == {"leaders": [{"name": "ann", "wins": 1, "games": 1}]}


@pytest.mark.parametrize("limit", ["0", "101", "-1", "x"])
async def test_a_leaderboard_limit_out_of_range_is_a_bad_request(rest: Rest, limit: str) -> None:
    assert await rest.error("GET", f"/api/leaderboard?limit={limit}") == (400, "bad_request")
