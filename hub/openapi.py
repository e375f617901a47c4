"""The OpenAPI 3.1 document of the REST routes (docs/protocol.md), at ``GET /api/openapi.json``.

This module describes the operations (paths, parameters, answers) and assembles the document;
the schemas of the bodies are in ``hub.openapi_schemas``.
"""

from __future__ import annotations

from typing import Any

from hub.openapi_schemas import (
    INTEGER,
    LEGACY_SCHEMAS,
    LIMIT,
    SCHEMAS,
    STRING,
    Schema,
    array,
    obj,
    ref,
)
from protocol.errors import HTTP_ERRORS


def _body(schema: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: Schema | None = None, status: int = 200) -> dict[str, Any]:
    answer: Schema = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    return {str(status): answer}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


def _param(name: str, where: str, schema: Schema, description: str = "") -> Schema:
    out: Schema = {"name": name, "in": where, "required": where == "path", "schema": schema}
    if description:
        out["description"] = description
    return out


BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _paths() -> dict[str, Any]:
    game_id = _param("id", "path", STRING)
    return {
        "/api/players": {
            "post": {
                "summary": "Register a player; the token is shown only here",
                "operationId": "createPlayer",
                "requestBody": _body(ref("NewPlayer")),
                "responses": {**_ok("Registered", ref("Registered"), 201), **_errors(400, 409)},
            },
            "get": {
                "summary": "Active players with their status, or every player",
                "operationId": "listPlayers",
                "parameters": [
                    _param(
                        "active",
                        "query",
                        STRING,
                        "`1`, `true` or `yes` (any case): only active players; any other value"
                        " or none: every player",
                    ),
                    _param("limit", "query", {**LIMIT, "default": 50}),
                    _param("before", "query", STRING, "the `next` cursor of the previous page"),
                ],
                "responses": {**_ok("A page of players", ref("PlayerList")), **_errors(400)},
            },
        },
        "/api/players/{name}": {
            "get": {
                "summary": "A player's record (names ignore case)",
                "operationId": "getPlayer",
                "parameters": [_param("name", "path", STRING)],
                "responses": {**_ok("The player", ref("Player")), **_errors(404)},
            }
        },
        "/api/players/{name}/ratings": {
            "get": {
                "summary": "A player's rating after each of their latest rated games, oldest first",
                "operationId": "ratingHistory",
                "parameters": [
                    _param("name", "path", STRING),
                    _param("limit", "query", {**LIMIT, "default": 100}),
                ],
                "responses": {**_ok("The history", ref("RatingHistory")), **_errors(400, 404)},
            }
        },
        "/api/tokens": {
            "post": {
                "summary": "Another token for the bearer's player (another device)",
                "operationId": "createToken",
                "security": BEARER,
                "responses": {**_ok("The new token", ref("Token"), 201), **_errors(401)},
            },
            "delete": {
                "summary": "Revoke the token this request is sent with; the others keep working",
                "operationId": "revokeToken",
                "security": BEARER,
                "responses": {"204": {"description": "Revoked"}, **_errors(401)},
            },
        },
        "/api/leaderboard": {
            "get": {
                "summary": "Players by wins (or rating), then name; the computer is left out",
                "operationId": "leaderboard",
                "parameters": [
                    _param("limit", "query", {**LIMIT, "default": 10}),
                    _param(
                        "by",
                        "query",
                        {"type": "string", "enum": ["wins", "rating"], "default": "wins"},
                        "`rating`: players whose rating is not provisional, highest first",
                    ),
                ],
                "responses": {**_ok("The leaders", ref("Leaderboard")), **_errors(400)},
            }
        },
        "/api/games": {
            "get": {
                "summary": "Games, newest first",
                "operationId": "listGames",
                "parameters": [
                    _param("player", "query", STRING),
                    _param("status", "query", {"type": "string", "enum": ["playing", "finished"]}),
                    _param("limit", "query", {**LIMIT, "default": 20}),
                    _param("before", "query", STRING, "the `next` cursor of the previous page"),
                ],
                "responses": {**_ok("A page of games", ref("GameList")), **_errors(400, 404)},
            },
            "post": {
                "summary": "Start a game against the computer",
                "operationId": "createGame",
                "security": BEARER,
                "requestBody": _body(ref("NewGame")),
                "responses": {**_ok("The game", ref("Game"), 201), **_errors(400, 401, 409)},
            },
        },
        "/api/games/{id}": {
            "get": {
                "summary": "A game with its rounds",
                "operationId": "getGame",
                "parameters": [game_id],
                "responses": {**_ok("The game", ref("Game")), **_errors(404)},
            }
        },
        "/api/games/{id}/moves": {
            "post": {
                "summary": "Move in your game",
                "description": "Checks run in the order 401, 404, 400 (body), 403, 400 (roll), 409",
                "operationId": "createMove",
                "security": BEARER,
                "parameters": [game_id],
                "requestBody": _body(ref("NewMove")),
                "responses": {
                    **_ok("The game as it stands", ref("Game")),
                    **_errors(400, 401, 403, 404, 409),
                },
            }
        },
        "/api/rules": {
            "get": {
                "summary": "The rule sets",
                "operationId": "rules",
                "responses": _ok("Every rule set", ref("Rules")),
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "operationId": "healthz",
                "responses": {**_ok("Serving", ref("Health")), **_errors(503)},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "operationId": "metrics",
                "responses": {
                    "200": {
                        "description": "The text exposition format",
                        "content": {"text/plain": {"schema": STRING}},
                    }
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": _ok("OpenAPI 3.1", {"type": "object"}),
            }
        },
    }


def _legacy_paths() -> dict[str, Any]:
    legacy = ["legacy"]
    player = ref("LegacyPlayer")
    return {
        "/api/game/users": {
            "put": {
                "summary": "Register a player (no token)",
                "operationId": "legacyCreateUser",
                "tags": legacy,
                "requestBody": _body(obj({"user": STRING})),
                "responses": {**_ok("The player", player), **_errors(400)},
            }
        },
        "/api/game/users/{user}": {
            "get": {
                "summary": "Find a player",
                "operationId": "legacyFindUser",
                "tags": legacy,
                "parameters": [_param("user", "path", STRING)],
                "responses": {**_ok("The player", player), **_errors(404)},
            }
        },
        "/api/game/games": {
            "post": {
                "summary": "A new game id; the game starts with its first round",
                "description": "A body, if any, is not read",
                "operationId": "legacyCreateGame",
                "tags": legacy,
                "responses": _ok("The id", obj({"game_id": {"type": "string", "format": "uuid"}})),
            }
        },
        "/api/game/rolls": {
            "get": {
                "summary": "The roll names, alphabetical",
                "operationId": "legacyRolls",
                "tags": legacy,
                "responses": _ok("Roll names", array(STRING)),
            }
        },
        "/api/game/{game_id}/status": {
            "get": {
                "summary": "A game's moves and its winner (the leader while it runs)",
                "operationId": "legacyStatus",
                "tags": legacy,
                "parameters": [_param("game_id", "path", STRING)],
                "responses": {**_ok("The status", ref("LegacyStatus")), **_errors(404)},
            }
        },
        "/api/game/top_scores": {
            "get": {
                "summary": "Up to 10 players by games won, the computer included",
                "operationId": "legacyTopScores",
                "tags": legacy,
                "responses": _ok("Top scores", array(obj({"player": player, "score": INTEGER}))),
            }
        },
        "/api/game/play_round": {
            "post": {
                "summary": "Play one round against the computer",
                "operationId": "legacyPlayRound",
                "tags": legacy,
                "requestBody": _body(
                    obj(
                        {
                            "game_id": {"type": "string", "format": "uuid"},
                            "user": STRING,
                            "roll": STRING,
                        }
                    )
                ),
                "responses": {**_ok("The round", ref("LegacyRound")), **_errors(400)},
            }
        },
    }


def document(version: str, *, legacy: bool = False) -> dict[str, Any]:
    """The OpenAPI document; with ``legacy`` it also describes the course's routes."""
    paths = _paths()
    schemas = dict(SCHEMAS)
    if legacy:
        paths.update(_legacy_paths())
        schemas.update(LEGACY_SCHEMAS)
    responses = {
        f"E{row.status}": {
            "description": f"{row.meaning} (`{row.code.value}`)",
            "content": {"application/json": {"schema": ref("Error")}},
        }
        for row in HTTP_ERRORS
    }
    responses["E429"]["headers"] = {
        "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
    }
    responses["E405"]["headers"] = {
        "Allow": {"description": "The methods the route takes", "schema": STRING}
    }
    # Any route can meet a foreign Host, a per-address limit, a wrong method, a failure or a
    # shutdown; any body can be too large or of another type.
    for operations in paths.values():
        for operation in operations.values():
            operation["responses"].update(_errors(403, 405, 429, 500, 503))
            if "requestBody" in operation:
                operation["responses"].update(_errors(413, 415))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "rps-hub",
            "version": version,
            "description": "REST half of rps-hub; the real-time half is the WebSocket at /ws.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
