"""The REST routes of a player's devices and rating (docs/protocol.md, REST).

``POST /api/tokens`` gives the bearer's player another token, for another device, and
``DELETE /api/tokens`` revokes the token it was sent with; the player's other tokens keep working.
``GET /api/players/{name}/ratings`` is a player's rating history, for a chart.
"""

from __future__ import annotations

from aiohttp import web

from hub import keys
from hub.rest import bearer, bearer_token, json_response, limit_param
from protocol.errors import NotFound
from protocol.game import COMPUTER
from protocol.wire import iso


async def create_token(request: web.Request) -> web.Response:
    """``POST /api/tokens``: another token for the bearer's player."""
    player = await bearer(request)
    token = await request.app[keys.HUB].add_token(player)
    return json_response({"token": token}, status=201)


async def delete_token(request: web.Request) -> web.Response:
    """``DELETE /api/tokens``: revoke the token this request was sent with."""
    await request.app[keys.HUB].revoke_token(bearer_token(request))
    return web.Response(status=204)


async def rating_history(request: web.Request) -> web.Response:
    """``GET /api/players/{name}/ratings``: the rating after each of the latest rated games."""
    storage = request.app[keys.HUB].storage
    record = await storage.player(request.match_info["name"])
    if record is None or record.name == COMPUTER:
        raise NotFound(f"no player {request.match_info['name']!r}")
    points = await storage.rating_history(record.name, limit_param(request, 100))
    return json_response(
        [
            {
                "game": p.game_id,
                "ts": iso(p.ts),
                "value": p.rating.public.value,
                "deviation": p.rating.public.deviation,
            }
            for p in points
        ]
    )


def add_routes(app: web.Application) -> None:
    """Register the routes of this module."""
    app.router.add_routes(
        [
            web.post("/api/tokens", create_token),
            web.delete("/api/tokens", delete_token),
            web.get("/api/players/{name}/ratings", rating_history),
        ]
    )
