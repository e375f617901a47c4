"""A tiny test-side HTTP client over ``aiohttp.ClientSession``: one call, status and JSON back."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

TIMEOUT = aiohttp.ClientTimeout(total=10)


class Rest:
    """JSON calls to one server; ``token`` adds ``Authorization: Bearer``."""

    def __init__(self, session: aiohttp.ClientSession, server: TestServer) -> None:
        self.session = session
        self.server = server

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
            text = await response.text()
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
        """A call that must fail with SPEC's JSON error; returns the status and the error code."""
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
