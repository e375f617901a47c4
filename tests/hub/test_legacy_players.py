"""Whom the legacy API acts for, and how its games end when left alone (docs/protocol.md).

The legacy routes have no authentication, so they act only for players they created, who hold no
token; a player registered through ``POST /api/players`` is refused there.  A legacy game has no
round deadline, but one left without a move for ``legacy_idle`` seconds ends ``abandoned``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage.open import open_storage
from tests.conftest import HubFactory, eventually
from tests.hub.restclient import Rest, session
from tests.hub.test_legacy import new_game_id, play_round


@pytest.fixture
async def legacy(start_hub: HubFactory) -> AsyncIterator[Rest]:
    """A hub started with ``--legacy-api`` and a client for it."""
    server = await start_hub(legacy_api=True)
    async with session() as s:
        yield Rest(s, server)


async def finished(rest: Rest, game_id: str) -> Any:
    """The game once it has finished (polled: its end is announced to no REST client)."""

    async def over() -> bool:
        return bool((await rest.ok("GET", f"/api/games/{game_id}"))["status"] == "finished")

    await eventually(over)
    return await rest.ok("GET", f"/api/games/{game_id}")


# -- tokens ----------------------------------------------------------------------------------


async def test_a_user_the_legacy_api_creates_holds_no_token(legacy: Rest, db_path: Path) -> None:
    await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
    storage = await open_storage(str(db_path))
    try:
        dana = await storage.player("Dana")
    finally:
        await storage.close()
    assert dana is not None and dana.has_token is False


async def test_a_legacy_round_for_a_player_with_a_token_is_a_bad_request(legacy: Rest) -> None:
    await legacy.register("Eve")
    body = {"game_id": await new_game_id(legacy), "user": "eve", "roll": "Rock"}
    assert await legacy.error("POST", "/api/game/play_round", body) == (400, "bad_request")


async def test_a_refused_legacy_round_leaves_the_token_players_record_and_games_alone(
    legacy: Rest,
) -> None:
    token = await legacy.register("Eve")
    before = await legacy.ok("GET", "/api/players/Eve")
    body = {"game_id": await new_game_id(legacy), "user": "Eve", "roll": "Rock"}
    await legacy.call("POST", "/api/game/play_round", body)
    assert await legacy.ok("GET", "/api/players/Eve") == before
    assert (await legacy.ok("GET", "/api/games?player=Eve"))["games"] == []
    # Nothing holds Eve's seat: she can start a game of her own.
    started = await legacy.call("POST", "/api/games", {}, token=token)
    assert started[0] == 201


async def test_a_player_with_a_token_is_not_a_legacy_user(legacy: Rest) -> None:
    await legacy.register("Eve")
    assert await legacy.error("GET", "/api/game/users/eve") == (404, "not_found")


async def test_a_legacy_user_cannot_take_the_name_of_a_player_with_a_token(legacy: Rest) -> None:
    await legacy.register("Eve")
    assert await legacy.error("PUT", "/api/game/users", {"user": "EVE"}) == (400, "bad_request")


# -- idle games ------------------------------------------------------------------------------


async def test_a_legacy_game_left_without_a_move_ends_abandoned(start_hub: HubFactory) -> None:
    server = await start_hub(legacy_api=True, legacy_idle=0.2)
    async with session() as s:
        legacy = Rest(s, server)
        await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
        game_id = await new_game_id(legacy)
        await play_round(legacy, game_id, "Dana")
        game = await finished(legacy, game_id)
    assert (game["reason"], game["winner"], game["deadline"]) == ("abandoned", None, None)
    assert len(game["rounds"]) == 1  # the open round ended with the game, unplayed


async def test_a_player_whose_legacy_game_was_abandoned_can_play_another(
    start_hub: HubFactory,
) -> None:
    server = await start_hub(legacy_api=True, legacy_idle=0.2)
    async with session() as s:
        legacy = Rest(s, server)
        await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
        first = await new_game_id(legacy)
        await play_round(legacy, first, "Dana")
        await finished(legacy, first)
        answer = await play_round(legacy, await new_game_id(legacy), "Dana")
    assert answer["round_number"] == 1


async def test_a_legacy_game_left_alone_across_a_restart_still_ends_abandoned(
    start_hub: HubFactory,
) -> None:
    # Long enough that the game cannot end before the hub stops, short enough to wait for.
    server = await start_hub(legacy_api=True, legacy_idle=2)
    async with session() as s:
        legacy = Rest(s, server)
        await legacy.ok("PUT", "/api/game/users", {"user": "Dana"})
        game_id = await new_game_id(legacy)
        await play_round(legacy, game_id, "Dana")
    await server.close()

    server = await start_hub(legacy_api=True)
    async with session() as s:
        legacy = Rest(s, server)
        assert (await legacy.ok("GET", f"/api/games/{game_id}"))["status"] == "playing"
        game = await finished(legacy, game_id)
    assert game["reason"] == "abandoned"
