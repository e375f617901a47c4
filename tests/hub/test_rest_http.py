"""The REST API as HTTP: limits, errors, health, metrics, logs, restarts and its OpenAPI
document, on a real hub with a real SQLite file."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.conftest import HubFactory
from tests.hub.restclient import Rest, new_game, session
from tests.hub.wsclient import Peer, ws_url

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


async def test_metrics_count_the_storage_writers_batches_and_saves(rest: Rest) -> None:
    token = await rest.register("ann")
    game = await new_game(rest, token, best_of=3)
    await rest.play_to_the_end(game["id"], token)
    rounds = len((await rest.call("GET", f"/api/games/{game['id']}"))[1]["rounds"])
    status, text = await rest.call("GET", "/metrics")
    assert status == 200
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("rps_hub_storage_")
    }
    # The game's creation and one save per round at least, in at most as many transactions.
    assert values["rps_hub_storage_saves_total"] >= 1 + rounds
    assert 1 <= values["rps_hub_storage_batches_total"] <= values["rps_hub_storage_saves_total"]
    assert values["rps_hub_storage_largest_batch"] >= 1
    assert values["rps_hub_storage_retried_total"] == 0


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
