"""The few REST calls the client needs (SPEC §4), over ``aiohttp``'s client."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from client.address import http_url
from client.errors import ClientError, describe

TIMEOUT = aiohttp.ClientTimeout(total=15)


async def call(
    server: str, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One JSON request to the hub; ``ClientError`` for an error answer or an unreachable hub."""
    base = http_url(server)
    url = base + path
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.request(method, url, json=body) as response,
        ):
            try:
                data = await response.json(content_type=None)
            except ValueError:
                data = None
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise ClientError(
            "unavailable", f"cannot reach the hub at {base}: {describe(exc)}"
        ) from None
    if not isinstance(data, dict):
        raise ClientError("unavailable", f"{base} is not an rps-hub server (HTTP {status})")
    if status >= 400:
        error = data.get("error")
        if isinstance(error, dict):
            raise ClientError(str(error.get("code")), str(error.get("message")))
        raise ClientError("unavailable", f"{base} answered HTTP {status}")
    return data


async def register(server: str, name: str) -> tuple[str, str]:
    """Register ``name``; return its registered spelling and its bearer token."""
    try:
        data = await call(server, "POST", "/api/players", {"name": name})
    except ClientError as exc:
        if exc.code == "conflict":
            raise ClientError(
                "conflict", f"the name {name!r} is taken on {http_url(server)}; pick another --name"
            ) from None
        raise
    return str(data["name"]), str(data["token"])


async def player(server: str, name: str) -> dict[str, Any]:
    """A player's record: games, wins, losses, draws, rounds won and lost."""
    return await call(server, "GET", f"/api/players/{quote(name, safe='')}")


async def leaderboard(server: str, limit: int = 10) -> list[dict[str, Any]]:
    """The leaders, most wins first."""
    data = await call(server, "GET", f"/api/leaderboard?limit={limit}")
    return list(data.get("leaders", []))


async def rules(server: str) -> dict[str, Any]:
    """The hub's rule sets: ``{"default", "rules": {name: {"rolls", "beats"}}}``."""
    return await call(server, "GET", "/api/rules")
