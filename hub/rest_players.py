"""The REST routes of a player's devices and rating (docs/protocol.md, REST).

``POST /api/tokens`` gives the bearer's player another token, for another device, and
``DELETE /api/tokens`` revokes the token it was sent with; the player's other tokens keep working.
"""

from __future__ import annotations

from aiohttp import web

from hub import keys
from hub.rest import bearer, bearer_token, json_response


async def create_token(request: web.Request) -> web.Response:
    """``POST /api/tokens``: another token for the bearer's player."""
    player = await bearer(request)
    token = await request.app[keys.HUB].add_token(player)
    return json_response({"token": token}, status=201)


async def delete_token(request: web.Request) -> web.Response:
    """``DELETE /api/tokens``: revoke the token this request was sent with."""
    await request.app[keys.HUB].revoke_token(bearer_token(request))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    """Register the routes of this module."""
    app.router.add_routes(
        [
            web.post("/api/tokens", create_token),
            web.delete("/api/tokens", delete_token),
        ]
    )
