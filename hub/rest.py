"""The REST API (docs/protocol.md, REST), and the JSON error middleware every route shares."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hub import __version__, keys, openapi
from hub.service import GameHub
from protocol.errors import (
    BadMessage,
    ErrorCode,
    NotFound,
    ProtocolError,
    Unauthorized,
    code_for_status,
)
from protocol.game import COMPUTER, check_best_of
from protocol.reader import DEFAULT_LEVEL, check_level
from protocol.wire import game_json, iso, summary_json
from storage.base import PlayerRecord

log = logging.getLogger(__name__)

STATUS = {code.value: code.status for code in ErrorCode}
"""Each error code's HTTP status, read from ``protocol.errors``."""
JSON = "application/json"


def error_response(code: str, message: str, status: int | None = None) -> web.Response:
    """The JSON error body with its HTTP status (the code's own unless given)."""
    known = ErrorCode(code)
    body = json.dumps({"error": {"code": known.value, "message": message}})
    response = web.Response(
        status=status or known.status, text=body, content_type="application/json"
    )
    if known is ErrorCode.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def errors(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Turn every refusal into the JSON error body; log unexpected failures, hide their details.

    The WebSocket upgrade answers its own refusals and failures: it is passed through with no
    frame of this middleware kept alive for the connection's whole life.
    """
    resource = request.match_info.route.resource
    if request.method == "GET" and resource is not None and resource.canonical == WEBSOCKET_PATH:
        return handler(request)
    return _errors(request, handler)


errors.__middleware_version__ = 1  # type: ignore[attr-defined]  # what @web.middleware sets

WEBSOCKET_PATH = "/ws"


async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await _answer(request, handler)
    except web.HTTPException as exc:
        _end_broken_body(request, exc)
        raise
    _end_broken_body(request, response)
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[keys.METRICS]
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    metrics.requests["rest", f"{request.method} {route}"] += 1
    try:
        return await handler(request)
    except web.RequestPayloadError:
        metrics.errors.labels(ErrorCode.BAD_REQUEST).inc()
        return error_response(
            ErrorCode.BAD_REQUEST, "the body could not be decoded; check its encoding"
        )
    except ProtocolError as exc:
        metrics.errors.labels(exc.code).inc()
        return error_response(exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = code_for_status(exc.status)
        metrics.errors.labels(code).inc()
        if exc.content_type == JSON:
            raise
        message = {
            404: f"no route {request.method} {request.path}",
            405: f"method {request.method} is not allowed on {request.path}",
            413: "the body is over 64 KiB",
            415: f"send the body as JSON with 'Content-Type: {JSON}'",
        }.get(exc.status, exc.reason)
        response = error_response(code, message, exc.status)
        # RFC 9110: a 405 names the methods the route takes.
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        metrics.errors.labels(ErrorCode.INTERNAL).inc()
        return error_response(ErrorCode.INTERNAL, "internal error")


def _end_broken_body(request: web.Request, response: web.StreamResponse) -> None:
    """Close the connection of a body that failed to decode (bad gzip, broken chunks).

    After the handler aiohttp reads whatever is left of the body and logs a traceback when that
    fails; the stream is marked ended instead, and the connection closed, since the parser that
    failed cannot find the next request on it.  A body that fails only after this point still
    gets aiohttp's traceback: that needs the rest of the body to arrive later than the answer.
    """
    if request.content.exception() is None or response.prepared:
        return
    request.content.feed_eof()
    response.force_close()


def json_response(data: object, status: int = 200) -> web.Response:
    """A compact JSON response."""
    return web.json_response(data, status=status)


async def read_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; ``BadMessage`` for anything else.

    Only ``application/json`` is read: a page on another site can send ``text/plain`` and form
    bodies without a CORS preflight, never JSON.  No body at all is just not a JSON object.
    """
    max_body = request.app[keys.CONFIG].max_body
    if request.content_length is not None and request.content_length > max_body:
        raise web.HTTPRequestEntityTooLarge(max_body, request.content_length)
    if request.body_exists and request.content_type.lower() != JSON:
        raise web.HTTPUnsupportedMediaType()
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        raise BadMessage("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadMessage("the body must be a JSON object")
    return body


def bearer_token(request: web.Request) -> str:
    """The token of the ``Authorization: Bearer`` header; ``Unauthorized`` when there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    return token.strip()


async def bearer(request: web.Request) -> PlayerRecord:
    """The player of the ``Authorization: Bearer`` header; ``Unauthorized`` otherwise."""
    return await request.app[keys.HUB].authenticate(bearer_token(request))


def limit_param(request: web.Request, default: int) -> int:
    """The ``limit`` query parameter: 1..100."""
    raw = request.query.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise BadMessage(f"limit must be an integer from 1 to 100, not {raw!r}")
    return value


def _hub(request: web.Request) -> GameHub:
    return request.app[keys.HUB]


async def create_player(request: web.Request) -> web.Response:
    """``POST /api/players``."""
    body = await read_body(request)
    record, token = await _hub(request).register(body.get("name"))
    return json_response(
        {"name": record.name, "token": token, "created": iso(record.created)}, status=201
    )


async def get_player(request: web.Request) -> web.Response:
    """``GET /api/players/{name}``."""
    hub = _hub(request)
    record = await hub.storage.player(request.match_info["name"])
    if record is None or record.name == COMPUTER:
        raise NotFound(f"no player {request.match_info['name']!r}")
    stats = await hub.storage.player_stats(record.name)
    return json_response(
        {
            "name": record.name,
            "created": iso(record.created),
            "active": hub.is_active(record.name),
            "games": stats.games,
            "wins": stats.wins,
            "losses": stats.losses,
            "draws": stats.draws,
            "rounds_won": stats.rounds_won,
            "rounds_lost": stats.rounds_lost,
            "rating": record.rating.public.to_json(),
        }
    )


def _name_cursor(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return base64.urlsafe_b64decode(raw.encode() + b"==").decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadMessage("'before' is not a cursor this hub made") from None


def _make_name_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


async def list_players(request: web.Request) -> web.Response:
    """``GET /api/players``: active players with status, or every player."""
    hub = _hub(request)
    limit = limit_param(request, 50)
    after = _name_cursor(request.query.get("before"))
    active = request.query.get("active", "").lower() in ("1", "true", "yes")
    rows: list[dict[str, str]]
    if active:
        everyone = [
            {"name": n, "status": s.value}
            for n, s in hub.players_now()
            if after is None or n.casefold() > after
        ]
        rows, more = everyone[:limit], len(everyone) > limit
    else:
        records = await hub.storage.players(limit + 1, after)
        more = len(records) > limit
        rows = []
        for r in records[:limit]:
            shown = hub.status_of(r.name)
            status = shown.value if shown is not None else "offline"
            rows.append({"name": r.name, "status": status})
    cursor = _make_name_cursor(rows[-1]["name"].casefold()) if more and rows else None
    return json_response({"players": rows, "next": cursor})


async def leaderboard(request: web.Request) -> web.Response:
    """``GET /api/leaderboard``: by wins (the default) or by rating (``?by=rating``)."""
    by = request.query.get("by", "wins")
    if by not in ("wins", "rating"):
        raise BadMessage(f"by must be 'wins' or 'rating', not {by!r}")
    storage = _hub(request).storage
    limit = limit_param(request, 10)
    if by == "rating":
        return json_response(
            {
                "leaders": [
                    {
                        "name": row.name,
                        "wins": row.wins,
                        "games": row.games,
                        "rating": row.rating.public.to_json(),
                    }
                    for row in await storage.rating_leaders(limit)
                ]
            }
        )
    leaders = await storage.leaderboard(limit)
    return json_response(
        {"leaders": [{"name": row.name, "wins": row.wins, "games": row.games} for row in leaders]}
    )


async def list_games(request: web.Request) -> web.Response:
    """``GET /api/games``: newest first, by player and status."""
    hub = _hub(request)
    limit = limit_param(request, 20)
    player = request.query.get("player")
    if player is not None:
        record = await hub.storage.player(player)
        if record is None:
            raise NotFound(f"no player {player!r}")
        player = record.name
    status = request.query.get("status")
    if status is not None and status not in ("playing", "finished"):
        raise BadMessage(f"status must be 'playing' or 'finished', not {status!r}")
    page = await hub.storage.games(
        player=player, status=status, limit=limit, before=request.query.get("before")
    )
    return json_response({"games": [summary_json(g) for g in page.games], "next": page.next})


async def get_game(request: web.Request) -> web.Response:
    """``GET /api/games/{id}``."""
    return json_response(await _hub(request).game_view(request.match_info["id"]))


async def rules(request: web.Request) -> web.Response:
    """``GET /api/rules``."""
    hub = _hub(request)
    return json_response(
        {"default": "rps15", "rules": {name: r.to_json() for name, r in hub.rules.items()}}
    )


async def create_game(request: web.Request) -> web.Response:
    """``POST /api/games``: a game against the computer."""
    player = await bearer(request)
    body = await read_body(request)
    hub = _hub(request)
    opponent = body.get("opponent", COMPUTER)
    if not isinstance(opponent, str) or opponent.casefold() != COMPUTER:
        raise BadMessage("over REST the opponent can only be 'computer'; use /ws to play people")
    rules = body.get("rules")
    if rules is not None and not isinstance(rules, str):
        raise BadMessage("field 'rules' must be a string")
    best_of = check_best_of(body.get("best_of", 5))
    level = body.get("level")
    level = DEFAULT_LEVEL if level is None else check_level(level)
    game = await hub.start_game((player.name, COMPUTER), hub.ruleset(rules), best_of, level=level)
    return json_response(game_json(game), status=201)


async def create_move(request: web.Request) -> web.Response:
    """``POST /api/games/{id}/moves``: checks in the order 401, 404, 400, 403, 400, 409."""
    player = await bearer(request)
    hub = _hub(request)
    game_id = request.match_info["id"]
    await hub.game(game_id)
    body = await read_body(request)
    roll = body.get("roll")
    if not isinstance(roll, str) or not roll:
        raise BadMessage("field 'roll' is required and must be a string")
    round_ = body.get("round")
    if round_ is not None and (isinstance(round_, bool) or not isinstance(round_, int)):
        raise BadMessage("field 'round' must be an integer")
    await hub.move(game_id, player.name, roll, round_, transport="rest")
    return json_response(await hub.game_view(game_id))


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: 503 while draining or shutting down (or, on a cluster node, without
    Redis or PostgreSQL); a cluster node says which node it is."""
    hub = _hub(request)
    trouble = await hub.trouble()
    if trouble is not None:
        return error_response(ErrorCode.UNAVAILABLE, trouble)
    node = hub.node
    return json_response({"status": "ok"} if node is None else {"status": "ok", "node": node})


async def openapi_document(request: web.Request) -> web.Response:
    """``GET /api/openapi.json``: the legacy routes are described when they are served."""
    legacy = request.app[keys.CONFIG].legacy_api
    return json_response(openapi.document(__version__, legacy=legacy))


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics`` in the Prometheus text format."""
    m = request.app[keys.METRICS]
    return web.Response(body=m.render(), headers={"Content-Type": m.content_type})


def add_routes(app: web.Application) -> None:
    """Register the REST routes."""
    app.router.add_routes(
        [
            web.post("/api/players", create_player),
            web.get("/api/players", list_players),
            web.get("/api/players/{name}", get_player),
            web.get("/api/leaderboard", leaderboard),
            web.get("/api/games", list_games),
            web.post("/api/games", create_game),
            web.get("/api/games/{id}", get_game),
            web.post("/api/games/{id}/moves", create_move),
            web.get("/api/rules", rules),
            web.get("/healthz", healthz),
            web.get("/metrics", metrics),
            web.get("/api/openapi.json", openapi_document),
        ]
    )
