"""Request bodies the REST API refuses: not JSON by Content-Type, bad encodings."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import HubFactory
from tests.hub.restclient import Rest, session


@pytest.fixture
async def server(start_hub: HubFactory) -> TestServer:
    """A running hub with the legacy routes too."""
    return await start_hub(legacy_api=True)


@pytest.fixture
async def rest(server: TestServer) -> AsyncIterator[Rest]:
    """A client for the hub."""
    async with session() as s:
        yield Rest(s, server)


async def exchange(server: TestServer, request: bytes) -> bytes:
    """Send raw bytes; everything the hub answers until it closes the connection."""
    assert server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(request)
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


def post(path: str, body: bytes, *headers: str) -> bytes:
    """A raw HTTP/1.1 POST that asks the hub to close the connection after answering."""
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def logged_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every record of level ERROR or above."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- Content-Encoding ---------------------------------------------------------------------


async def test_a_body_that_is_not_the_gzip_it_claims_is_a_bad_request(rest: Rest) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    answer = await rest.error("POST", "/api/players", data=b"garbage", headers=headers)
    assert answer == (400, "bad_request")


async def test_a_body_that_is_not_the_gzip_it_claims_logs_no_traceback(
    server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    request = post(
        "/api/players", b"garbage", "Content-Type: application/json", "Content-Encoding: gzip"
    )
    answer = await exchange(server, request)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert logged_errors(caplog) == []


async def test_a_bad_gzip_body_on_a_route_that_never_reads_it_logs_no_traceback(
    server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    request = post(
        "/api/games/nope/moves",
        b"garbage",
        "Content-Type: application/json",
        "Content-Encoding: gzip",
    )
    answer = await exchange(server, request)
    assert answer.startswith(b"HTTP/1.1 40")
    assert logged_errors(caplog) == []


async def test_a_gzip_body_is_decoded(rest: Rest) -> None:
    body = gzip.compress(json.dumps({"name": "ann"}).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    status, answer = await rest.call("POST", "/api/players", data=body, headers=headers)
    assert status == 201
    assert answer["name"] == "ann"


# -- Content-Type -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "application/jsonx",
    ],
)
async def test_a_json_body_under_another_content_type_is_415_bad_request(
    rest: Rest, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    data = json.dumps({"name": "ann"})
    answer = await rest.error("POST", "/api/players", data=data, headers=headers)
    assert answer == (415, "bad_request")


async def test_a_body_refused_for_its_content_type_registers_nobody(rest: Rest) -> None:
    headers = {"Content-Type": "text/plain"}
    await rest.call("POST", "/api/players", data='{"name": "ann"}', headers=headers)
    assert await rest.error("GET", "/api/players/ann") == (404, "not_found")


async def test_a_body_without_a_content_type_is_415_bad_request(server: TestServer) -> None:
    answer = await exchange(server, post("/api/players", b'{"name": "ann"}'))
    assert answer.startswith(b"HTTP/1.1 415 ")
    assert b'"code": "bad_request"' in answer


async def test_no_body_at_all_is_a_bad_request_not_a_wrong_content_type(rest: Rest) -> None:
    assert await rest.error("POST", "/api/players") == (400, "bad_request")


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/json"]
)
async def test_a_json_content_type_with_parameters_or_in_any_case_is_accepted(
    rest: Rest, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    data = json.dumps({"name": "ann"})
    status, _ = await rest.call("POST", "/api/players", data=data, headers=headers)
    assert status == 201


async def test_a_legacy_registration_as_text_plain_is_415_bad_request(rest: Rest) -> None:
    headers = {"Content-Type": "text/plain"}
    data = json.dumps({"user": "ann"})
    answer = await rest.error("PUT", "/api/game/users", data=data, headers=headers)
    assert answer == (415, "bad_request")


async def test_a_move_as_text_plain_is_415_after_the_token_and_game_are_checked(
    rest: Rest,
) -> None:
    token = await rest.register("ann")
    _, game = await rest.call("POST", "/api/games", {}, token=token)
    headers = {"Content-Type": "text/plain"}
    path = f"/api/games/{game['id']}/moves"
    answer = await rest.error("POST", path, data='{"roll": "Rock"}', token=token, headers=headers)
    assert answer == (415, "bad_request")


async def test_a_body_over_64_kib_is_too_large_whatever_its_content_type(rest: Rest) -> None:
    headers = {"Content-Type": "text/plain"}
    answer = await rest.error("POST", "/api/players", data="x" * (64 * 1024 + 1), headers=headers)
    assert answer == (413, "too_large")


async def test_the_hub_still_serves_after_refused_bodies(rest: Rest) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    await rest.call("POST", "/api/players", data=b"garbage", headers=headers)
    await rest.call("POST", "/api/players", data="{}", headers={"Content-Type": "text/plain"})
    assert (await rest.call("POST", "/api/players", {"name": "ann"}))[0] == 201
