"""A tiny test-side HTTP client over ``aiohttp.ClientSession``: one call, status and JSON back.

Every response it receives is checked against the hub's OpenAPI document (openapi-core): its
status must be declared for the path and method, its body and headers valid against the schemas.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS31Validator
from yarl import URL

from hub import __version__, keys, openapi

TIMEOUT = aiohttp.ClientTimeout(total=10)


@functools.cache
def described(legacy: bool) -> OpenAPI:
    """The OpenAPI document a hub serves, with the legacy routes or without."""
    return OpenAPI.from_dict(openapi.document(__version__, legacy=legacy))


def check_response(
    spec: OpenAPI, method: str, url: URL, status: int, headers: dict[str, str], raw: bytes
) -> None:
    """Fail unless the document declares ``status`` for the route and the answer fits it.

    A route the document does not describe (the web page, ``/ws``, an unknown path or method)
    must still answer an error with the protocol's JSON error body.
    """
    content_type = headers.get("Content-Type", "").split(";")[0].strip()
    request = MockRequest(f"{url.scheme}://{url.host}:{url.port}", method.lower(), url.path)
    response = MockResponse(raw, status_code=status, headers=headers, content_type=content_type)
    try:
        spec.validate_response(request, response)
    except (PathNotFound, OperationNotFound):
        if status >= 400:
            assert content_type == "application/json", (method, url.path, status, headers)
            error = spec.spec / "components" / "schemas" / "Error"
            OAS31Validator(error.read_value()).validate(json.loads(raw))
    except Exception as exc:
        raise AssertionError(
            f"{method} {url.path} answered {status} {raw[:500]!r} against the OpenAPI "
            f"document: {exc!r}: {getattr(exc, '__cause__', None)!r}"
        ) from exc


class Rest:
    """JSON calls to one server; ``token`` adds ``Authorization: Bearer``."""

    def __init__(self, session: aiohttp.ClientSession, server: TestServer) -> None:
        self.session = session
        self.server = server
        self.spec = described(server.app[keys.CONFIG].legacy_api)
        self.headers: dict[str, str] = {}
        """The headers of the last response."""

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; returns the status and the decoded JSON body (text when not JSON)."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body)
            sent.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method, self.server.make_url(path), data=data, headers=sent
        ) as response:
            raw = await response.read()
            self.headers = dict(response.headers)
            check_response(
                self.spec, method, response.url, response.status, dict(response.headers), raw
            )
            text = raw.decode(response.get_encoding())
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """A call that must answer 200 or 201; returns its JSON."""
        status, answer = await self.call(method, path, body, **kwargs)
        assert status in (200, 201), (status, answer)
        return answer

    async def error(
        self, method: str, path: str, body: Any = None, **kwargs: Any
    ) -> tuple[int, str]:
        """A call that must fail with the JSON error body; returns the status and the error code."""
        status, answer = await self.call(method, path, body, **kwargs)
        assert isinstance(answer, dict) and set(answer) == {"error"}, (status, answer)
        assert set(answer["error"]) == {"code", "message"}, answer
        return status, answer["error"]["code"]

    async def register(self, name: str) -> str:
        """Register ``name``; returns its token."""
        answer = await self.ok("POST", "/api/players", {"name": name})
        token: str = answer["token"]
        return token

    async def play_to_the_end(self, game_id: str, token: str, roll: str = "Rock") -> Any:
        """Move ``roll`` until the game is finished; returns the finished game."""
        for _ in range(60):
            game = await self.ok("POST", f"/api/games/{game_id}/moves", {"roll": roll}, token=token)
            if game["status"] == "finished":
                return game
        raise AssertionError(f"game {game_id} did not finish")


def session() -> aiohttp.ClientSession:
    """A client session with a timeout on every call."""
    return aiohttp.ClientSession(timeout=TIMEOUT)


async def new_game(rest: Rest, token: str, **body: Any) -> dict[str, Any]:
    """Start a game against the computer over REST."""
    status, game = await rest.call("POST", "/api/games", body, token=token)
    assert status == 201, game
    assert isinstance(game, dict)
    return game
