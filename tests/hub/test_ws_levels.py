"""The computer's levels on a real hub: the fairness proof holds for both, the level shows, and
a reader game reads the player's earlier games."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import HubFactory
from tests.hub.restclient import Rest, new_game
from tests.hub.wsclient import Clients


@pytest.mark.parametrize("level", ["random", "reader", "READER"])
async def test_every_round_keeps_the_commitment_it_opened_with(
    start_hub: HubFactory, clients: Clients, level: str
) -> None:
    server = await start_hub(rate=0)  # up to 100 moves at once
    ann = await clients.player(server, "ann")
    for _ in range(2):  # the second game reads the first one's rounds
        reply, frames = await ann.request(
            "play", opponent="computer", best_of=15, rules="rps3", level=level
        )
        game_id = reply["data"]["game"]
        topic = f"game:{game_id}"
        [started] = [f["data"] for f in frames if f.get("event") == "game_started"]
        assert started["level"] == level.lower()
        commitments = {1: started["commitment"]}
        for n in range(1, 51):
            reply, frames = await ann.request("move", game=game_id, roll="Rock", round=n)
            assert reply["ok"], reply
            events = {f["event"]: f["data"] for f in frames if f.get("topic") == topic}
            played = events["round"]
            roll = played["moves"]["computer"]
            proof = hashlib.sha256(f"{roll}:{played['nonce']}".encode()).hexdigest()
            assert proof == commitments[n]
            if "game_over" in events:
                break
            commitments[n + 1] = events["round_open"]["commitment"]


async def test_a_bad_level_is_a_bad_request(start_hub: HubFactory, clients: Clients) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    for level in ("hard", 3, ""):
        assert (await ann.error("play", opponent="computer", level=level))["code"] == (
            "bad_request"
        )


async def test_the_level_shows_in_the_game_and_its_summary(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token, level="reader", best_of=1)
    assert game["level"] == "reader"
    assert (await rest.ok("GET", f"/api/games/{game['id']}"))["level"] == "reader"
    [summary] = (await rest.ok("GET", "/api/games?player=ann"))["games"]
    assert summary["level"] == "reader"
    assert await rest.error("POST", "/api/games", {"level": "hard"}, token=token) == (
        400,
        "bad_request",
    )


async def test_a_game_without_a_level_is_random(rest: Rest) -> None:
    token = await rest.register("ann")
    assert (await new_game(rest, token))["level"] == "random"
