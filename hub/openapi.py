"""The OpenAPI 3.1 document of the REST routes (docs/protocol.md), at ``GET /api/openapi.json``."""

from __future__ import annotations

from typing import Any

from protocol.errors import HTTP_ERRORS, ErrorCode
from protocol.game import MAX_BEST_OF
from protocol.rules import DEFAULT_RULES, builtin_rules

Schema = dict[str, Any]

RULE_SETS = sorted(builtin_rules())


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
NAME: Schema = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 100}
ROLL_OR_NULL: Schema = {"type": ["string", "null"]}
SCORE: Schema = {"type": "object", "additionalProperties": INTEGER}
CURSOR: Schema = {"type": ["string", "null"], "description": "opaque; pass as `before`"}

_SUMMARY_FIELDS: dict[str, Schema] = {
    "id": STRING,
    "rules": STRING,
    "best_of": INTEGER,
    "players": {**_array(STRING), "minItems": 2, "maxItems": 2},
    "status": {"type": "string", "enum": ["playing", "finished"]},
    "reason": {
        "type": ["string", "null"],
        "enum": ["won", "drawn", "resigned", "timeout", "abandoned", None],
    },
    "winner": {"type": ["string", "null"]},
    "score": SCORE,
    "round": INTEGER,
    "started": TIME,
    "finished": {"type": ["string", "null"], "format": "date-time"},
}

SCHEMAS: dict[str, Schema] = {
    "Error": _obj(
        {
            "error": _obj(
                {
                    "code": {"type": "string", "enum": sorted(code.value for code in ErrorCode)},
                    "message": STRING,
                }
            )
        }
    ),
    "NewPlayer": _obj({"name": NAME}),
    "Registered": _obj({"name": STRING, "token": STRING, "created": TIME}),
    "Player": _obj(
        {
            "name": STRING,
            "created": TIME,
            "active": BOOLEAN,
            "games": INTEGER,
            "wins": INTEGER,
            "losses": INTEGER,
            "draws": INTEGER,
            "rounds_won": INTEGER,
            "rounds_lost": INTEGER,
        }
    ),
    "PlayerList": _obj(
        {
            "players": _array(
                _obj(
                    {
                        "name": STRING,
                        "status": {
                            "type": "string",
                            "enum": ["idle", "queued", "playing", "offline"],
                        },
                    }
                )
            ),
            "next": CURSOR,
        }
    ),
    "Leaderboard": _obj(
        {"leaders": _array(_obj({"name": STRING, "wins": INTEGER, "games": INTEGER}))}
    ),
    "Summary": _obj(_SUMMARY_FIELDS),
    "Round": _obj(
        {
            "round": INTEGER,
            "moves": {"type": "object", "additionalProperties": ROLL_OR_NULL},
            "winner": {"type": ["string", "null"]},
        },
        {"commitment": STRING, "nonce": STRING},
    ),
    "Game": _obj(
        {
            **_SUMMARY_FIELDS,
            "deadline": {"type": ["string", "null"], "format": "date-time"},
            "commitment": {"type": ["string", "null"]},
            "epoch": STRING,
            "rounds": _array(_ref("Round")),
        }
    ),
    "GameList": _obj({"games": _array(_ref("Summary")), "next": CURSOR}),
    "Rules": _obj(
        {
            "default": STRING,
            "rules": {
                "type": "object",
                "additionalProperties": _obj(
                    {
                        "rolls": _array(STRING),
                        "beats": {"type": "object", "additionalProperties": _array(STRING)},
                    }
                ),
            },
        }
    ),
    "NewGame": _obj(
        {},
        {
            "opponent": {
                "type": "string",
                "pattern": "^[Cc][Oo][Mm][Pp][Uu][Tt][Ee][Rr]$",
                "description": "only `computer` (any case) over REST",
            },
            "best_of": {
                "type": "integer",
                "enum": list(range(1, MAX_BEST_OF + 1, 2)),
                "default": 5,
                "description": "an odd number of rounds as a JSON integer (5.0 is refused)",
            },
            "rules": {
                "enum": [*RULE_SETS, None],
                "default": DEFAULT_RULES,
                "description": "a rule set of `GET /api/rules`; null for the default",
            },
        },
    ),
    "NewMove": _obj(
        {"roll": STRING},
        {
            "round": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": "send it when retrying (a JSON integer: 2.0 is refused); null is"
                " the same as leaving it out",
            }
        },
    ),
    "Health": _obj({"status": {"type": "string", "const": "ok"}}),
}

LEGACY_SCHEMAS: dict[str, Schema] = {
    "LegacyPlayer": _obj({"id": INTEGER, "created": STRING, "name": STRING}),
    "LegacyRoll": _obj({"id": INTEGER, "created": STRING, "name": STRING}),
    "LegacyMove": _obj(
        {
            "id": INTEGER,
            "created": STRING,
            "roll_id": INTEGER,
            "roll": STRING,
            "player_id": INTEGER,
            "player": STRING,
            "roll_number": INTEGER,
            "is_winning_play": BOOLEAN,
        }
    ),
    "LegacyStatus": _obj(
        {
            "is_over": BOOLEAN,
            "moves": _array(_ref("LegacyMove")),
            "player1": _ref("LegacyPlayer"),
            "player2": _ref("LegacyPlayer"),
            "winner": _ref("LegacyPlayer"),
        }
    ),
    "LegacyRound": _obj(
        {
            "roll": _ref("LegacyRoll"),
            "computer_roll": _ref("LegacyRoll"),
            "player": _ref("LegacyPlayer"),
            "opponent": _ref("LegacyPlayer"),
            "round_outcome": {"type": "string", "enum": ["win", "lose", "tie"]},
            "is_final_round": BOOLEAN,
            "round_number": INTEGER,
        }
    ),
}


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
                "requestBody": _body(_ref("NewPlayer")),
                "responses": {**_ok("Registered", _ref("Registered"), 201), **_errors(400, 409)},
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
                "responses": {**_ok("A page of players", _ref("PlayerList")), **_errors(400)},
            },
        },
        "/api/players/{name}": {
            "get": {
                "summary": "A player's record (names ignore case)",
                "operationId": "getPlayer",
                "parameters": [_param("name", "path", STRING)],
                "responses": {**_ok("The player", _ref("Player")), **_errors(404)},
            }
        },
        "/api/leaderboard": {
            "get": {
                "summary": "Players by wins, then name; the computer is left out",
                "operationId": "leaderboard",
                "parameters": [_param("limit", "query", {**LIMIT, "default": 10})],
                "responses": {**_ok("The leaders", _ref("Leaderboard")), **_errors(400)},
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
                "responses": {**_ok("A page of games", _ref("GameList")), **_errors(400, 404)},
            },
            "post": {
                "summary": "Start a game against the computer",
                "operationId": "createGame",
                "security": BEARER,
                "requestBody": _body(_ref("NewGame")),
                "responses": {**_ok("The game", _ref("Game"), 201), **_errors(400, 401, 409)},
            },
        },
        "/api/games/{id}": {
            "get": {
                "summary": "A game with its rounds",
                "operationId": "getGame",
                "parameters": [game_id],
                "responses": {**_ok("The game", _ref("Game")), **_errors(404)},
            }
        },
        "/api/games/{id}/moves": {
            "post": {
                "summary": "Move in your game",
                "description": "Checks run in the order 401, 404, 400 (body), 403, 400 (roll), 409",
                "operationId": "createMove",
                "security": BEARER,
                "parameters": [game_id],
                "requestBody": _body(_ref("NewMove")),
                "responses": {
                    **_ok("The game as it stands", _ref("Game")),
                    **_errors(400, 401, 403, 404, 409),
                },
            }
        },
        "/api/rules": {
            "get": {
                "summary": "The rule sets",
                "operationId": "rules",
                "responses": _ok("Every rule set", _ref("Rules")),
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "operationId": "healthz",
                "responses": {**_ok("Serving", _ref("Health")), **_errors(503)},
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
    player = _ref("LegacyPlayer")
    return {
        "/api/game/users": {
            "put": {
                "summary": "Register a player (no token)",
                "operationId": "legacyCreateUser",
                "tags": legacy,
                "requestBody": _body(_obj({"user": STRING})),
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
                "responses": _ok("The id", _obj({"game_id": {"type": "string", "format": "uuid"}})),
            }
        },
        "/api/game/rolls": {
            "get": {
                "summary": "The roll names, alphabetical",
                "operationId": "legacyRolls",
                "tags": legacy,
                "responses": _ok("Roll names", _array(STRING)),
            }
        },
        "/api/game/{game_id}/status": {
            "get": {
                "summary": "A game's moves and its winner (the leader while it runs)",
                "operationId": "legacyStatus",
                "tags": legacy,
                "parameters": [_param("game_id", "path", STRING)],
                "responses": {**_ok("The status", _ref("LegacyStatus")), **_errors(404)},
            }
        },
        "/api/game/top_scores": {
            "get": {
                "summary": "Up to 10 players by games won, the computer included",
                "operationId": "legacyTopScores",
                "tags": legacy,
                "responses": _ok("Top scores", _array(_obj({"player": player, "score": INTEGER}))),
            }
        },
        "/api/game/play_round": {
            "post": {
                "summary": "Play one round against the computer",
                "operationId": "legacyPlayRound",
                "tags": legacy,
                "requestBody": _body(
                    _obj(
                        {
                            "game_id": {"type": "string", "format": "uuid"},
                            "user": STRING,
                            "roll": STRING,
                        }
                    )
                ),
                "responses": {**_ok("The round", _ref("LegacyRound")), **_errors(400)},
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
            "content": {"application/json": {"schema": _ref("Error")}},
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
