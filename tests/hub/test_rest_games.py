"""The REST API's games and rules, on a real hub with a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hub.restclient import Rest, new_game
from tests.hub.seed import store_won_game


async def test_starting_a_game_answers_201_with_the_whole_game(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token, opponent="Computer", best_of=3, rules="rps3")
    assert set(game) == {
        "id", "rules", "best_of", "players", "status", "reason", "winner", "score", "round",
        "deadline", "commitment", "epoch", "rounds", "started", "finished", "level",
    }  # fmt: skip
    assert game["players"] == ["ann", "computer"]
    assert (game["rules"], game["best_of"], game["status"], game["round"]) == (
        "rps3",
        3,
        "playing",
        1,
    )
    assert len(game["commitment"]) == 64
    assert game["rounds"] == []


async def test_a_game_defaults_to_rps15_best_of_5(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token)
    assert (game["rules"], game["best_of"]) == ("rps15", 5)


async def test_starting_a_game_without_a_token_is_unauthorized(rest: Rest) -> None:
    assert await rest.error("POST", "/api/games", {}) == (401, "unauthorized")


async def test_starting_a_game_with_a_bad_token_is_unauthorized(rest: Rest) -> None:
    status_code = await rest.error("POST", "/api/games", {}, token="not-a-token")
    assert status_code == (401, "unauthorized")


async def test_starting_a_game_against_a_person_over_rest_is_a_bad_request(rest: Rest) -> None:
    token = await rest.register("ann")
    await rest.register("bob")
    answer = await rest.error("POST", "/api/games", {"opponent": "bob"}, token=token)
    assert answer == (400, "bad_request")


@pytest.mark.parametrize("best_of", [4, 0, 17, "5", 5.0, True])
async def test_a_bad_best_of_is_a_bad_request(rest: Rest, best_of: object) -> None:
    token = await rest.register("ann")
    answer = await rest.error("POST", "/api/games", {"best_of": best_of}, token=token)
    assert answer == (400, "bad_request")


async def test_unknown_rules_are_a_bad_request(rest: Rest) -> None:
    token = await rest.register("ann")
    answer = await rest.error("POST", "/api/games", {"rules": "chess"}, token=token)
    assert answer == (400, "bad_request")


async def test_a_second_live_game_is_a_conflict(rest: Rest) -> None:
    token = await rest.register("ann")
    await new_game(rest, token)
    assert await rest.error("POST", "/api/games", {}, token=token) == (409, "conflict")


async def test_a_game_is_found_by_id(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token)
    assert await rest.ok("GET", f"/api/games/{game['id']}") == game


async def test_an_unknown_game_is_not_found(rest: Rest) -> None:
    assert await rest.error("GET", "/api/games/nope") == (404, "not_found")


async def test_a_full_game_against_the_computer_is_played_to_the_end(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token, best_of=3, rules="rps3")
    finished = await rest.play_to_the_end(game["id"], token, roll="paper")
    assert finished["status"] == "finished"
    assert finished["reason"] in ("won", "drawn")
    if finished["reason"] == "won":
        assert finished["score"][finished["winner"]] == 2
    assert finished["commitment"] is None and finished["deadline"] is None
    assert [r["round"] for r in finished["rounds"]] == list(range(1, len(finished["rounds"]) + 1))
    assert all(r["moves"]["ann"] == "Paper" for r in finished["rounds"])
    assert await rest.ok("GET", f"/api/games/{game['id']}") == finished


async def test_games_are_listed_newest_first_and_filtered_by_player_and_status(
    rest: Rest, db_path: Path
) -> None:
    for name in ("ann", "bob"):
        await rest.register(name)
    await store_won_game(db_path, "old", "ann", "bob")
    carl = await rest.register("carl")
    live = await new_game(rest, carl)
    everything = await rest.ok("GET", "/api/games")
    assert [g["id"] for g in everything["games"]] == [live["id"], "old"]
    assert everything["next"] is None
    assert "rounds" not in everything["games"][0]
    by_ann = await rest.ok("GET", "/api/games?player=ANN")
    assert [g["id"] for g in by_ann["games"]] == ["old"]
    playing = await rest.ok("GET", "/api/games?status=playing")
    assert [g["id"] for g in playing["games"]] == [live["id"]]
    finished = await rest.ok("GET", "/api/games?status=finished&player=carl")
    assert finished["games"] == []


async def test_the_games_list_pages_with_next_cursors(rest: Rest) -> None:
    ids = []
    for name in ("p1", "p2", "p3"):
        ids.append((await new_game(rest, await rest.register(name)))["id"])
    first = await rest.ok("GET", "/api/games?limit=2")
    assert [g["id"] for g in first["games"]] == ids[::-1][:2]
    assert isinstance(first["next"], str)
    second = await rest.ok("GET", f"/api/games?limit=2&before={first['next']}")
    assert [g["id"] for g in second["games"]] == [ids[0]]
    assert second["next"] is None


async def test_games_of_an_unknown_player_are_not_found(rest: Rest) -> None:
    assert await rest.error("GET", "/api/games?player=nobody") == (404, "not_found")


async def test_a_games_status_filter_other_than_playing_or_finished_is_a_bad_request(
    rest: Rest,
) -> None:
    assert await rest.error("GET", "/api/games?status=won") == (400, "bad_request")


async def test_a_games_cursor_the_hub_did_not_make_is_a_bad_request(rest: Rest) -> None:
    assert await rest.error("GET", "/api/games?before=garbage!") == (400, "bad_request")


@pytest.mark.parametrize("limit", ["0", "101"])
async def test_a_games_limit_out_of_range_is_a_bad_request(rest: Rest, limit: str) -> None:
    assert await rest.error("GET", f"/api/games?limit={limit}") == (400, "bad_request")


async def test_the_rules_list_every_rule_set_in_header_order(rest: Rest) -> None:
    answer = await rest.ok("GET", "/api/rules")
    assert answer["default"] == "rps15"
    assert set(answer["rules"]) == {"rps15", "rps3", "rpsls"}
    assert answer["rules"]["rps3"]["rolls"] == ["Rock", "Paper", "Scissors"]
    assert answer["rules"]["rps3"]["beats"] == {
        "Rock": ["Scissors"],
        "Paper": ["Rock"],
        "Scissors": ["Paper"],
    }
    assert all(len(beaten) == 7 for beaten in answer["rules"]["rps15"]["beats"].values())
