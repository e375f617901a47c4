"""The course's original API (``--legacy-api``): its routes, shapes and refusals on a real hub."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HubFactory
from tests.hub.restclient import Rest, session
from tests.hub.seed import store_won_game
from tests.hub.wsclient import Peer, ws_url

ROLLS_BY_NAME = [
    "Air", "Devil", "Dragon", "Fire", "Gun", "Human", "Lightning", "Paper", "Rock", "Scissors",
    "Snake", "Sponge", "Tree", "Water", "Wolf",
]  # fmt: skip
HEADER_ORDER = [
    "Rock", "Gun", "Lightning", "Devil", "Dragon", "Water", "Air", "Paper", "Sponge", "Wolf",
    "Tree", "Human", "Snake", "Scissors", "Fire",
]  # fmt: skip
NAIVE_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$")


@pytest.fixture
async def legacy(start_hub: HubFactory) -> AsyncIterator[Rest]:
    """A hub started with ``--legacy-api`` and a client for it."""
    server = await start_hub(legacy_api=True)
    async with session() as s:
        yield Rest(s, server)


def assert_player(value: Any, name: str) -> None:
    """The course's Player shape."""
    assert set(value) == {"id", "created", "name"}
    assert isinstance(value["id"], int)
    assert NAIVE_ISO.match(value["created"]), value["created"]
    assert value["name"] == name


def assert_roll(value: Any) -> None:
    """The course's Roll shape, with the id of its place in the table's header."""
    assert set(value) == {"id", "created", "name"}
    assert value["id"] == HEADER_ORDER.index(value["name"]) + 1
    assert NAIVE_ISO.match(value["created"])


async def new_game_id(legacy: Rest) -> str:
    """``POST /api/game/games`` as the course client sends it: no body."""
    answer = await legacy.ok("POST", "/api/game/games")
    game_id: str = answer["game_id"]
    return game_id


async def play_round(legacy: Rest, game_id: str, user: str, roll: str = "Rock") -> Any:
    """One ``play_round`` that must succeed."""
    body = {"game_id": game_id, "user": user, "roll": roll}
    return await legacy.ok("POST", "/api/game/play_round", body)


async def play_to_the_end(legacy: Rest, game_id: str, user: str) -> list[Any]:
    """Play rounds until ``is_final_round``; returns every round's answer."""
    rounds = []
    for _ in range(60):
        rounds.append(await play_round(legacy, game_id, user))
        if rounds[-1]["is_final_round"]:
            return rounds
    raise AssertionError("the legacy game did not end")


async def test_the_course_clients_call_sequence_plays_a_whole_game(legacy: Rest) -> None:
    choose = random.Random(97)
    await legacy.ok("PUT", "/api/game/users", {"user": "Charles"})

    for score in await legacy.ok("GET", "/api/game/top_scores"):
        assert isinstance(score["player"]["name"], str) and isinstance(score["score"], int)
    game_id = await new_game_id(legacy)
    rolls = await legacy.ok("GET", "/api/game/rolls")
    user = await legacy.ok("GET", "/api/game/users/Charles")
    assert user["name"] == "Charles"

    is_over, played = False, []
    while not is_over:
        body = {"game_id": game_id, "user": "Charles", "roll": choose.choice(rolls)}
        answer = await legacy.ok("POST", "/api/game/play_round", body)
        assert set(answer) == {
            "roll", "computer_roll", "player", "opponent", "round_outcome", "is_final_round",
            "round_number",
        }  # fmt: skip
        assert_roll(answer["roll"])
        assert_roll(answer["computer_roll"])
        assert answer["roll"]["name"] == body["roll"]
        assert_player(answer["player"], "Charles")
        assert_player(answer["opponent"], "computer")
        assert answer["round_number"] == len(played) + 1
        played.append(answer)
        is_over = answer["is_final_round"]
        assert len(played) <= 50

    status = await legacy.ok("GET", f"/api/game/{game_id}/status")
    assert set(status) == {"is_over", "moves", "player1", "player2", "winner"}
    assert status["is_over"] is True
    assert_player(status["player1"], "Charles")
    assert_player(status["player2"], "computer")
    assert len(status["moves"]) == 2 * len(played)

    stored = await legacy.ok("GET", f"/api/games/{game_id}")
    assert (stored["rules"], stored["best_of"], stored["status"]) == ("rps15", 5, "finished")
    assert stored["players"] == ["Charles", "computer"]
    assert stored["winner"] == status["winner"]["name"]
    assert stored["score"][stored["winner"]] == 3
    outcomes = {"win": "Charles", "lose": "computer", "tie": None}
    assert [outcomes[a["round_outcome"]] for a in played] == [r["winner"] for r in stored["rounds"]]
    assert [a["computer_roll"]["name"] for a in played] == [
        r["moves"]["computer"] for r in stored["rounds"]
    ]

    top = await legacy.ok("GET", "/api/game/top_scores")
    assert {"player": status["winner"], "score": 1} in top


async def test_legacy_routes_are_not_served_without_the_flag(start_hub: HubFactory) -> None:
    server = await start_hub()
    async with session() as s:
        rest = Rest(s, server)
        for method, path in [
            ("PUT", "/api/game/users"),
            ("GET", "/api/game/users/ann"),
            ("POST", "/api/game/games"),
            ("GET", "/api/game/rolls"),
            ("GET", f"/api/game/{uuid.uuid4()}/status"),
            ("GET", "/api/game/top_scores"),
            ("POST", "/api/game/play_round"),
        ]:
            assert await rest.error(method, path, {}) == (404, "not_found"), path


# -- users --------------------------------------------------------------------------------


async def test_creating_a_user_answers_the_courses_player(legacy: Rest) -> None:
    status, player = await legacy.call("PUT", "/api/game/users", {"user": "Dana"})
    assert status == 200
    assert_player(player, "Dana")


async def test_a_user_name_is_stripped_before_it_is_registered(legacy: Rest) -> None:
    player = await legacy.ok("PUT", "/api/game/users", {"user": "  Dana "})
    assert player["name"] == "Dana"


@pytest.mark.parametrize("body", [{}, {"user": ""}, {"user": "  "}, {"user": 7}, ["Dana"]])
async def test_creating_a_user_without_a_name_is_a_bad_request(legacy: Rest, body: Any) -> None:
    assert await legacy.error("PUT", "/api/game/users", body) == (400, "bad_request")


async def test_creating_a_user_with_no_body_is_a_bad_request(legacy: Rest) -> None:
    assert await legacy.error("PUT", "/api/game/users") == (400, "bad_request")


async def test_creating_a_user_with_a_name_the_hub_refuses_is_a_bad_request(
    legacy: Rest,
) -> None:
    answer = await legacy.error("PUT", "/api/game/users", {"user": "Da na"})
    assert answer == (400, "bad_request")


@pytest.mark.parametrize("name", ["Dana", "DANA", "computer"])
async def test_creating_a_taken_user_is_a_bad_request(legacy: Rest, name: str) -> None:
    await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
    assert await legacy.error("PUT", "/api/game/users", {"user": name}) == (400, "bad_request")


async def test_a_user_is_found_ignoring_case_with_the_registered_spelling(legacy: Rest) -> None:
    created = await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
    assert await legacy.ok("GET", "/api/game/users/dANA") == created


async def test_an_unknown_user_is_not_found(legacy: Rest) -> None:
    assert await legacy.error("GET", "/api/game/users/nobody") == (404, "not_found")


# -- games and rolls ----------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, {}, {"anything": 1}])
async def test_a_new_game_id_is_a_uuid4_whatever_the_body(legacy: Rest, body: Any) -> None:
    answer = await legacy.ok("POST", "/api/game/games", body)
    assert set(answer) == {"game_id"}
    assert uuid.UUID(answer["game_id"]).version == 4
    assert str(uuid.UUID(answer["game_id"])) == answer["game_id"]


async def test_the_rolls_are_the_rps15_names_in_alphabetical_order(legacy: Rest) -> None:
    assert await legacy.ok("GET", "/api/game/rolls") == ROLLS_BY_NAME


async def test_a_game_has_no_status_before_its_first_round(legacy: Rest) -> None:
    game_id = await new_game_id(legacy)
    assert await legacy.error("GET", f"/api/game/{game_id}/status") == (404, "not_found")


async def test_an_unknown_game_has_no_status(legacy: Rest) -> None:
    assert await legacy.error("GET", "/api/game/not-a-game/status") == (404, "not_found")


async def test_the_status_winner_is_the_round_leader_and_player1_on_a_tie(legacy: Rest) -> None:
    await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
    game_id = await new_game_id(legacy)
    await play_round(legacy, game_id, "Dana")
    status = await legacy.ok("GET", f"/api/game/{game_id}/status")
    assert status["is_over"] is False
    score = (await legacy.ok("GET", f"/api/games/{game_id}"))["score"]
    leader = "computer" if score["computer"] > score["Dana"] else "Dana"
    assert status["winner"]["name"] == leader


async def test_status_moves_are_derived_from_the_stored_rounds(legacy: Rest) -> None:
    dana = await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
    game_id = await new_game_id(legacy)
    rounds = await play_to_the_end(legacy, game_id, "Dana")
    status = await legacy.ok("GET", f"/api/game/{game_id}/status")
    computer = status["player2"]
    moves = status["moves"]
    assert [m["id"] for m in moves] == list(range(1, 2 * len(rounds) + 1))
    for i, answer in enumerate(rounds):
        mine, theirs = moves[2 * i], moves[2 * i + 1]
        assert set(mine) == {
            "id", "created", "roll_id", "roll", "player_id", "player", "roll_number",
            "is_winning_play",
        }  # fmt: skip
        assert NAIVE_ISO.match(mine["created"])
        assert (mine["player"], mine["player_id"]) == ("Dana", dana["id"])
        assert (theirs["player"], theirs["player_id"]) == ("computer", computer["id"])
        assert (mine["roll"], mine["roll_id"]) == (answer["roll"]["name"], answer["roll"]["id"])
        assert (theirs["roll"], theirs["roll_id"]) == (
            answer["computer_roll"]["name"],
            answer["computer_roll"]["id"],
        )
        assert mine["roll_number"] == theirs["roll_number"] == answer["round_number"]
    winning = [m for m in moves if m["is_winning_play"]]
    assert len(winning) == 1
    assert winning[0]["roll_number"] == len(rounds)
    assert winning[0]["player"] == status["winner"]["name"]


async def test_top_scores_count_games_won_with_the_computer_included(
    legacy: Rest, db_path: Path
) -> None:
    for name in ("ann", "bob"):
        await legacy.register(name)
    await store_won_game(db_path, "g1", "ann", "bob")
    await store_won_game(db_path, "g2", "ann", "computer")
    await store_won_game(db_path, "g3", "computer", "bob")
    await store_won_game(db_path, "g4", "computer", "ann")
    top = await legacy.ok("GET", "/api/game/top_scores")
    assert [(t["player"]["name"], t["score"]) for t in top] == [
        ("ann", 2),
        ("computer", 2),
        ("bob", 0),
    ]
    for entry in top:
        assert_player(entry["player"], entry["player"]["name"])


async def test_top_scores_show_at_most_ten_players(legacy: Rest, db_path: Path) -> None:
    await legacy.register("loser")
    for i in range(12):
        await legacy.register(f"p{i:02}")
        await store_won_game(db_path, f"g{i}", f"p{i:02}", "loser")
    assert len(await legacy.ok("GET", "/api/game/top_scores")) == 10


# -- play_round ---------------------------------------------------------------------------


async def test_a_legacy_game_is_an_ordinary_game_without_a_deadline(
    start_hub: HubFactory,
) -> None:
    server = await start_hub(legacy_api=True, round_deadline=30)
    async with session() as s:
        legacy = Rest(s, server)
        await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
        game_id = await new_game_id(legacy)
        await play_round(legacy, game_id, "Dana")
        game = await legacy.ok("GET", f"/api/games/{game_id}")
        assert game["deadline"] is None
        listed = await legacy.ok("GET", "/api/games?player=dana&status=playing")
        assert [g["id"] for g in listed["games"]] == [game_id]


async def test_a_legacy_round_is_broadcast_to_the_games_watchers(legacy: Rest) -> None:
    await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
    game_id = await new_game_id(legacy)
    await play_round(legacy, game_id, "Dana")
    watcher = await Peer.open(ws_url(legacy.server))
    try:
        await watcher.ok("subscribe", topic=f"game:{game_id}")
        answer = await play_round(legacy, game_id, "Dana", "Sponge")
        event = await watcher.event(f"game:{game_id}", "round")
        assert event["data"]["round"] == answer["round_number"] == 2
        assert event["data"]["moves"] == {
            "Dana": "Sponge",
            "computer": answer["computer_roll"]["name"],
        }
    finally:
        await watcher.close()


async def test_a_roll_is_matched_ignoring_case(legacy: Rest) -> None:
    await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
    game_id = await new_game_id(legacy)
    answer = await play_round(legacy, game_id, "dana", "  sNAKE")
    assert answer["roll"] == {"id": 13, "created": answer["roll"]["created"], "name": "Snake"}
    assert answer["player"]["name"] == "Dana"


async def test_a_game_id_that_is_a_uuid_is_accepted_even_if_not_handed_out(
    legacy: Rest,
) -> None:
    await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
    answer = await play_round(legacy, str(uuid.uuid4()), "Dana")
    assert answer["round_number"] == 1


@pytest.mark.parametrize(
    "change",
    [
        {"game_id": None},
        {"game_id": ""},
        {"game_id": "not-a-uuid"},
        {"game_id": 12},
        {"user": None},
        {"user": ""},
        {"user": "nobody"},
        {"user": "computer"},
        {"roll": None},
        {"roll": ""},
        {"roll": "Rok"},
        {"roll": 1},
    ],
)
async def test_a_bad_play_round_input_is_a_bad_request(
    legacy: Rest, change: dict[str, Any]
) -> None:
    await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
    body = {"game_id": await new_game_id(legacy), "user": "Dana", "roll": "Rock"}
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    answer = await legacy.error("POST", "/api/game/play_round", body)
    assert answer == (400, "bad_request")
    game = await legacy.call("GET", f"/api/games/{body.get('game_id')}")
    assert game[0] == 404  # nothing half-written


@pytest.mark.parametrize("data", ["", "not json", "[1, 2]"])
async def test_a_play_round_body_that_is_not_a_json_object_is_a_bad_request(
    legacy: Rest, data: str
) -> None:
    headers = {"Content-Type": "application/json"}
    answer = await legacy.error("POST", "/api/game/play_round", data=data, headers=headers)
    assert answer == (400, "bad_request")


async def test_a_round_in_a_finished_game_is_a_bad_request(legacy: Rest) -> None:
    await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
    game_id = await new_game_id(legacy)
    await play_to_the_end(legacy, game_id, "Dana")
    body = {"game_id": game_id, "user": "Dana", "roll": "Rock"}
    assert await legacy.error("POST", "/api/game/play_round", body) == (400, "bad_request")


async def test_a_round_in_someone_elses_game_is_a_bad_request(legacy: Rest) -> None:
    for name in ("Dana", "Eve"):
        await legacy.ok("PUT", "/api/game/users", {"user": name})
    game_id = await new_game_id(legacy)
    await play_round(legacy, game_id, "Dana")
    body = {"game_id": game_id, "user": "Eve", "roll": "Rock"}
    assert await legacy.error("POST", "/api/game/play_round", body) == (400, "bad_request")


async def test_a_new_legacy_game_while_one_is_live_is_a_bad_request(legacy: Rest) -> None:
    await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
    await play_round(legacy, await new_game_id(legacy), "Dana")
    body = {"game_id": await new_game_id(legacy), "user": "Dana", "roll": "Rock"}
    assert await legacy.error("POST", "/api/game/play_round", body) == (400, "bad_request")


async def test_a_rest_game_id_is_not_a_legacy_game_id(legacy: Rest) -> None:
    token = await legacy.register("Dana")
    game = await legacy.ok("POST", "/api/games", {}, token=token)
    body = {"game_id": game["id"], "user": "Dana", "roll": "Rock"}
    assert await legacy.error("POST", "/api/game/play_round", body) == (400, "bad_request")
