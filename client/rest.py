"""The few REST calls the client needs (docs/protocol.md, REST), over ``aiohttp``'s client."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import aiohttp

from client.address import http_url
from client.errors import ClientError, describe
from client.frames import JsonObject
from client.shapes import Leader, Record, as_shape

TIMEOUT = aiohttp.ClientTimeout(total=15)


async def call(
    server: str,
    method: str,
    path: str,
    body: Mapping[str, object] | None = None,
    token: str | None = None,
) -> JsonObject:
    """One JSON request to the hub (as the player of ``token`` when given); ``ClientError`` for an
    error answer or an unreachable hub. An empty answer (204) is ``{}``."""
    base = http_url(server)
    url = base + path
    headers = {"Authorization": f"Bearer {token}"} if token is not None else None
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.request(method, url, json=body, headers=headers) as response,
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
    if status == 204:
        return {}
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


async def player(server: str, name: str) -> Record:
    """A player's record: games, wins, losses, draws, rounds won and lost."""
    return as_shape(Record, await call(server, "GET", f"/api/players/{quote(name, safe='')}"))


async def leaderboard(server: str, limit: int = 10) -> list[Leader]:
    """The leaders, most wins first."""
    data = await call(server, "GET", f"/api/leaderboard?limit={limit}")
    leaders = data.get("leaders")
    return [as_shape(Leader, row) for row in leaders] if isinstance(leaders, list) else []


async def new_token(server: str, token: str) -> str:
    """Another token for the player of ``token`` (``POST /api/tokens``), for another device."""
    return str((await call(server, "POST", "/api/tokens", token=token))["token"])


async def rules(server: str) -> JsonObject:
    """The hub's rule sets: ``{"default", "rules": {name: {"rolls", "beats"}}}``."""
    return await call(server, "GET", "/api/rules")
