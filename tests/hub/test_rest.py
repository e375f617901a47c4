"""The REST API against a real hub on an ephemeral port with a real SQLite file."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from hub import keys
from tests.conftest import HubFactory, eventually
from tests.hub.restclient import Rest, session
from tests.hub.seed import store_won_game
from tests.hub.wsclient import Peer, player, ws_url


@pytest.fixture
async def rest(start_hub: HubFactory) -> AsyncIterator[Rest]:
    """A running hub and a client for it."""
    server = await start_hub()
    async with session() as s:
        yield Rest(s, server)


async def new_game(rest: Rest, token: str, **body: Any) -> dict[str, Any]:
    """Start a game against the computer over REST."""
    status, game = await rest.call("POST", "/api/games", body, token=token)
    assert status == 201, game
    assert isinstance(game, dict)
    return game


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


# -- games --------------------------------------------------------------------------------


async def test_starting_a_game_answers_201_with_the_whole_game(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token, opponent="Computer", best_of=3, rules="rps3")
    assert set(game) == {
        "id", "rules", "best_of", "players", "status", "reason", "winner", "score", "round",
        "deadline", "commitment", "epoch", "rounds", "started", "finished",
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


# -- moves --------------------------------------------------------------------------------


async def test_a_move_without_a_token_is_unauthorized_before_anything_else(rest: Rest) -> None:
    answer = await rest.error("POST", "/api/games/nope/moves", data="not json")
    assert answer == (401, "unauthorized")


async def test_a_move_in_an_unknown_game_is_not_found_before_the_body_is_read(
    rest: Rest,
) -> None:
    token = await rest.register("ann")
    answer = await rest.error("POST", "/api/games/nope/moves", data="not json", token=token)
    assert answer == (404, "not_found")


async def test_a_move_body_without_a_roll_is_a_bad_request_before_the_seat_is_checked(
    rest: Rest,
) -> None:
    game = await new_game(rest, await rest.register("ann"))
    bob = await rest.register("bob")
    answer = await rest.error("POST", f"/api/games/{game['id']}/moves", {}, token=bob)
    assert answer == (400, "bad_request")


async def test_a_move_in_someone_elses_game_is_forbidden_before_the_roll_is_checked(
    rest: Rest,
) -> None:
    game = await new_game(rest, await rest.register("ann"))
    bob = await rest.register("bob")
    path = f"/api/games/{game['id']}/moves"
    assert await rest.error("POST", path, {"roll": "Rok"}, token=bob) == (403, "forbidden")


async def test_an_unknown_roll_is_a_bad_request(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token)
    path = f"/api/games/{game['id']}/moves"
    assert await rest.error("POST", path, {"roll": "Rok"}, token=token) == (400, "bad_request")


@pytest.mark.parametrize("body", [{"roll": 3}, {"roll": "Rock", "round": "1"}, ["Rock"]])
async def test_an_ill_typed_move_body_is_a_bad_request(rest: Rest, body: object) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token)
    path = f"/api/games/{game['id']}/moves"
    assert await rest.error("POST", path, body, token=token) == (400, "bad_request")


async def test_a_malformed_json_body_is_a_bad_request(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token)
    path = f"/api/games/{game['id']}/moves"
    json_type = {"Content-Type": "application/json"}
    answer = await rest.error("POST", path, data='{"roll": ', token=token, headers=json_type)
    assert answer == (400, "bad_request")


async def test_a_roll_is_matched_ignoring_case_and_spaces(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token)
    path = f"/api/games/{game['id']}/moves"
    after = await rest.ok("POST", path, {"roll": "  lightning "}, token=token)
    assert after["rounds"][0]["moves"]["ann"] == "Lightning"


async def test_the_same_roll_repeated_with_its_round_gets_the_same_answer(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token)
    path = f"/api/games/{game['id']}/moves"
    first = await rest.ok("POST", path, {"roll": "Rock", "round": 1}, token=token)
    again = await rest.ok("POST", path, {"roll": "rock", "round": 1}, token=token)
    assert again == first


async def test_a_different_roll_for_a_moved_round_is_a_conflict(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token)
    path = f"/api/games/{game['id']}/moves"
    await rest.ok("POST", path, {"roll": "Rock", "round": 1}, token=token)
    answer = await rest.error("POST", path, {"roll": "Paper", "round": 1}, token=token)
    assert answer == (409, "conflict")


async def test_a_round_not_yet_open_is_a_conflict(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token)
    path = f"/api/games/{game['id']}/moves"
    answer = await rest.error("POST", path, {"roll": "Rock", "round": 2}, token=token)
    assert answer == (409, "conflict")


async def test_a_move_after_the_game_is_over_without_round_is_a_conflict(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token, best_of=1)
    await rest.play_to_the_end(game["id"], token)
    path = f"/api/games/{game['id']}/moves"
    assert await rest.error("POST", path, {"roll": "Rock"}, token=token) == (409, "conflict")


async def test_the_last_move_repeated_with_its_round_after_the_game_is_over_is_ok(
    rest: Rest,
) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token, best_of=1)
    finished = await rest.play_to_the_end(game["id"], token)
    path = f"/api/games/{game['id']}/moves"
    again = await rest.ok("POST", path, {"roll": "Rock", "round": finished["round"]}, token=token)
    assert again == finished


async def test_a_rest_move_is_broadcast_to_the_games_watchers(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token)
    watcher = await Peer.open(ws_url(rest.server))
    try:
        await watcher.ok("subscribe", topic=f"game:{game['id']}")
        await rest.ok("POST", f"/api/games/{game['id']}/moves", {"roll": "Fire"}, token=token)
        played = await watcher.event(f"game:{game['id']}", "round")
        assert played["data"]["moves"]["ann"] == "Fire"
    finally:
        await watcher.close()


# -- transport ----------------------------------------------------------------------------


async def test_a_body_over_64_kib_is_too_large(rest: Rest) -> None:
    answer = await rest.error("POST", "/api/players", data="x" * (64 * 1024 + 1))
    assert answer == (413, "too_large")


async def test_an_unknown_route_is_a_json_not_found(rest: Rest) -> None:
    assert await rest.error("GET", "/api/nothing-here") == (404, "not_found")


async def test_a_wrong_method_is_405_with_code_bad_request(rest: Rest) -> None:
    assert await rest.error("DELETE", "/api/games") == (405, "bad_request")


async def test_a_wrong_method_is_answered_with_the_methods_the_route_allows(rest: Rest) -> None:
    await rest.error("TRACE", "/api/games")
    assert sorted(rest.headers["Allow"].split(",")) == ["GET", "HEAD", "POST"]


async def test_healthz_answers_ok(rest: Rest) -> None:
    assert await rest.call("GET", "/healthz") == (200, {"status": "ok"})


async def test_metrics_count_requests_games_moves_and_errors(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token, best_of=1)
    await rest.play_to_the_end(game["id"], token)
    await rest.error("GET", "/api/games/nope")
    status, text = await rest.call("GET", "/metrics")
    assert status == 200
    lines = text.splitlines()

    def value(prefix: str) -> float:
        found = [line for line in lines if line.startswith(prefix + " ")]
        assert found, prefix
        return float(found[0].rsplit(" ", 1)[1])

    assert value('rps_hub_requests_total{op="POST /api/players",transport="rest"}') == 1
    assert value('rps_hub_games_started_total{opponent="computer"}') == 1
    finished = [line for line in lines if line.startswith("rps_hub_games_finished_total{")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in finished) == 1
    assert value("rps_hub_games_live") == 0
    assert value('rps_hub_moves_total{transport="rest"}') >= 1
    assert value('rps_hub_errors_total{code="not_found"}') == 1


async def test_the_token_never_appears_in_the_logs(
    rest: Rest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # The test's own websockets client logs the frames it sends; the hub's logs are under test.
    caplog.set_level(logging.INFO, logger="websockets.client")
    token = await rest.register("ann")
    game = await new_game(rest, token, best_of=1)
    await rest.ok("POST", f"/api/games/{game['id']}/moves", {"roll": "Rock"}, token=token)
    await rest.error("POST", "/api/games", {}, token=token + "x")
    peer = await Peer.open(ws_url(rest.server))
    try:
        await peer.ok("auth", token=token)
        await peer.request("move", game=game["id"], roll="Rock", round=1)
    finally:
        await peer.close()
    assert any(r.name == "aiohttp.access" for r in caplog.records)
    for record in caplog.records:
        assert token not in record.getMessage(), record
        assert token not in (record.exc_text or ""), record


async def test_stored_games_and_players_survive_a_restart(
    start_hub: HubFactory,
) -> None:
    server = await start_hub()
    async with session() as s:
        rest = Rest(s, server)
        token = await rest.register("Ann")
        game = await new_game(rest, token, best_of=1)
        finished = await rest.play_to_the_end(game["id"], token)
        live = await new_game(rest, token)
        live = await rest.ok("POST", f"/api/games/{live['id']}/moves", {"roll": "Air"}, token=token)
        record = await rest.ok("GET", "/api/players/ann")
    await server.close()

    again = await start_hub()
    async with session() as s:
        rest = Rest(s, again)
        assert await rest.ok("GET", f"/api/games/{game['id']}") == finished
        assert await rest.ok("GET", f"/api/games/{live['id']}") == live
        assert await rest.ok("GET", "/api/players/ANN") == record
        # The token still works, and the live game resumes with the computer's committed roll.
        after = await rest.ok(
            "POST", f"/api/games/{live['id']}/moves", {"roll": "Air"}, token=token
        )
        assert len(after["rounds"]) == len(live["rounds"]) + 1
        assert after["rounds"][-1]["commitment"] == live["commitment"]


# -- OpenAPI ------------------------------------------------------------------------------


async def test_the_openapi_document_is_a_valid_openapi_3_1_document(rest: Rest) -> None:
    document = await rest.ok("GET", "/api/openapi.json")
    assert document["openapi"].startswith("3.1")
    validate(document)


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }


def _served(server: Any) -> set[tuple[str, str]]:
    routes = set()
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if route.method == "HEAD" or path in ("/ws", "/") or "prefix" in info:
            continue
        routes.add((route.method, path))
    return routes


async def test_the_openapi_document_describes_every_route_the_hub_serves(rest: Rest) -> None:
    document = await rest.ok("GET", "/api/openapi.json")
    served = _served(rest.server)
    assert ("POST", "/api/games/{id}/moves") in served
    assert served == _documented(document)
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert document["paths"]["/api/games"]["post"]["security"] == [{"bearerAuth": []}]
    assert "Error" in document["components"]["schemas"]


async def test_the_openapi_document_describes_the_legacy_routes_when_they_are_served(
    start_hub: HubFactory,
) -> None:
    server = await start_hub(legacy_api=True)
    async with session() as s:
        document = await Rest(s, server).ok("GET", "/api/openapi.json")
    validate(document)
    served = _served(server)
    assert ("POST", "/api/game/play_round") in served
    assert served == _documented(document)


async def test_a_game_read_waits_for_a_move_that_is_still_being_stored(
    rest: Rest, db_path: Path
) -> None:
    hub = rest.server.app[keys.HUB]
    token = await rest.register("ann")
    game_id = (await rest.ok("POST", "/api/games", {"rules": "rps3"}, token=token))["id"]
    # Another writer holds SQLite's write lock, so the hub cannot store ann's move yet.
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        move = asyncio.create_task(
            rest.ok("POST", f"/api/games/{game_id}/moves", {"roll": "Rock"}, token=token)
        )

        async def resolved() -> bool:  # the core resolved the round; it is not stored yet
            return bool((await hub.game(game_id)).rounds)

        await eventually(resolved)
        read = asyncio.create_task(rest.ok("GET", f"/api/games/{game_id}"))
        # A read answered from unsaved memory comes back in milliseconds; this one must wait.
        done, _ = await asyncio.wait({read}, timeout=0.5)
        assert not done
    finally:
        blocker.rollback()
        blocker.close()
    seen, moved = await read, await move
    assert [r["round"] for r in seen["rounds"]] == [1]
    assert moved["rounds"] == seen["rounds"]
