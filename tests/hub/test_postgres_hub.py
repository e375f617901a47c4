"""A real hub on PostgreSQL: a game over REST that outlives a restart, and ``serve --db postgresql://``.

Each test has a schema of its own on the real server (``tests/postgres.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import HubFactory
from tests.hub.restclient import Rest, session
from tests.hub.test_cli import Run, clean_env, finish, get_json, run, serving_url, stop
from tests.hub.wsclient import Clients
from tests.postgres import fresh_schema, schema_url

__all__ = ["run"]  # the fixture, used by the command-line tests below


@pytest.fixture
async def db_url() -> AsyncIterator[str]:
    """The URL of a fresh schema on the test server."""
    async with fresh_schema() as schema:
        yield schema_url(schema)


async def test_a_game_against_the_computer_over_rest_survives_a_restart_of_the_hub(
    start_hub: HubFactory, db_url: str
) -> None:
    server = await start_hub(db=db_url)
    async with session() as s:
        rest = Rest(s, server)
        token = await rest.register("Ann")
        started = await rest.ok("POST", "/api/games", {"best_of": 3, "rules": "rps3"}, token=token)
        finished = await rest.play_to_the_end(started["id"], token, roll="paper")
        assert finished["status"] == "finished"
        record = await rest.ok("GET", "/api/players/ann")
        live = await rest.ok("POST", "/api/games", {}, token=token)
    await server.close()

    server = await start_hub(db=db_url)
    async with session() as s:
        rest = Rest(s, server)
        assert await rest.ok("GET", f"/api/games/{started['id']}") == finished
        assert await rest.ok("GET", "/api/players/ANN") == record
        assert await rest.error("POST", "/api/players", {"name": "ann"}) == (409, "conflict")
        listed = await rest.ok("GET", "/api/games?player=ann")
        assert [g["id"] for g in listed["games"]] == [live["id"], started["id"]]
        # The game left open resumes on the new hub, and the token still plays it.
        resumed = await rest.play_to_the_end(live["id"], token)
        assert resumed["status"] == "finished"


async def test_serve_with_an_unreachable_postgresql_server_prints_one_line_and_exits_2(
    run: Run,
) -> None:
    url = "postgresql://postgres@127.0.0.1:1/test"
    code, _, err = await finish(await run("serve", "--port", "0", "--db", url))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "127.0.0.1:1" in err


async def test_serve_runs_on_a_postgresql_url_from_the_environment(run: Run, db_url: str) -> None:
    proc = await run("serve", env=clean_env(RPS_HUB_PORT="0", RPS_HUB_DB=db_url))
    url = await serving_url(proc)
    assert await get_json(url + "healthz") == (200, {"status": "ok"})
    assert await stop(proc) == 0


@pytest.mark.parametrize(
    "path", ["/api/games/a%00b", "/api/players/a%00b", "/api/games?player=a%00b"]
)
async def test_a_nul_byte_in_a_name_or_id_is_not_found_as_on_sqlite(
    start_hub: HubFactory, db_url: str, path: str
) -> None:
    server = await start_hub(db=db_url)
    async with session() as s:
        assert await Rest(s, server).error("GET", path) == (404, "not_found")


async def test_a_move_in_a_game_whose_id_holds_a_nul_byte_is_not_found(
    start_hub: HubFactory, db_url: str, clients: Clients
) -> None:
    server = await start_hub(db=db_url)
    ann = await clients.player(server, "ann")
    error = await ann.error("move", game="a\x00b", roll="Rock")
    assert error["code"] == "not_found"
