"""The REST API's moves, on a real hub with a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from hub import keys
from tests.conftest import eventually
from tests.hub.restclient import Rest, new_game
from tests.hub.wsclient import Peer, ws_url


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
