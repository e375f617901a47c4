"""The schemas of the OpenAPI document (``components/schemas``): what each REST body looks like.

``SCHEMAS`` describes the routes of docs/protocol.md, ``LEGACY_SCHEMAS`` the legacy API's; the
small builders (``ref``, ``obj``, ``array``) and the common schemas (``STRING``, ``LIMIT``, ...)
are shared with ``hub.openapi``, which describes the operations and assembles the document.
"""

from __future__ import annotations

from typing import Any

from protocol.errors import ErrorCode
from protocol.game import MAX_BEST_OF
from protocol.reader import DEFAULT_LEVEL, LEVELS
from protocol.rules import DEFAULT_RULES, builtin_rules

Schema = dict[str, Any]

RULE_SETS = sorted(builtin_rules())


def ref(name: str) -> Schema:
    """A reference to the schema called ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object with the ``required`` properties and, when given, ``optional`` ones."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def array(items: Schema) -> Schema:
    """An array of ``items``."""
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
    "players": {**array(STRING), "minItems": 2, "maxItems": 2},
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
    "level": {"type": "string", "enum": list(LEVELS), "description": "against the computer"},
}

_OPEN_SUMMARY = {k: v for k, v in _SUMMARY_FIELDS.items() if k != "level"}  # level: optional

SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": {"type": "string", "enum": sorted(code.value for code in ErrorCode)},
                    "message": STRING,
                }
            )
        }
    ),
    "NewPlayer": obj({"name": NAME}),
    "Registered": obj({"name": STRING, "token": STRING, "created": TIME}),
    "Token": obj({"token": STRING}),
    "Player": obj(
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
            "rating": ref("Rating"),
        }
    ),
    "Rating": obj({"value": INTEGER, "deviation": INTEGER, "provisional": BOOLEAN}),
    "RatingHistory": array(
        obj({"game": STRING, "ts": TIME, "value": INTEGER, "deviation": INTEGER})
    ),
    "PlayerList": obj(
        {
            "players": array(
                obj(
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
    "Leaderboard": obj(
        {
            "leaders": array(
                obj(
                    {"name": STRING, "wins": INTEGER, "games": INTEGER},
                    {"rating": {**ref("Rating"), "description": "only with `by=rating`"}},
                )
            )
        }
    ),
    "Summary": obj(_OPEN_SUMMARY, {"level": _SUMMARY_FIELDS["level"]}),
    "Round": obj(
        {
            "round": INTEGER,
            "moves": {"type": "object", "additionalProperties": ROLL_OR_NULL},
            "winner": {"type": ["string", "null"]},
        },
        {"commitment": STRING, "nonce": STRING},
    ),
    "Game": obj(
        {
            **_OPEN_SUMMARY,
            "deadline": {"type": ["string", "null"], "format": "date-time"},
            "commitment": {"type": ["string", "null"]},
            "epoch": STRING,
            "rounds": array(ref("Round")),
        },
        {
            "rating_change": {**SCORE, "description": "a rated game's change per player"},
            "level": _SUMMARY_FIELDS["level"],
        },
    ),
    "GameList": obj({"games": array(ref("Summary")), "next": CURSOR}),
    "Rules": obj(
        {
            "default": STRING,
            "rules": {
                "type": "object",
                "additionalProperties": obj(
                    {
                        "rolls": array(STRING),
                        "beats": {"type": "object", "additionalProperties": array(STRING)},
                    }
                ),
            },
        }
    ),
    "NewGame": obj(
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
            "level": {
                "type": ["string", "null"],
                "default": DEFAULT_LEVEL,
                "description": f"the computer's level, one of {', '.join(LEVELS)} (any case)",
            },
        },
    ),
    "NewMove": obj(
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
    "Health": obj({"status": {"type": "string", "const": "ok"}}, {"node": STRING}),
}

LEGACY_SCHEMAS: dict[str, Schema] = {
    "LegacyPlayer": obj({"id": INTEGER, "created": STRING, "name": STRING}),
    "LegacyRoll": obj({"id": INTEGER, "created": STRING, "name": STRING}),
    "LegacyMove": obj(
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
    "LegacyStatus": obj(
        {
            "is_over": BOOLEAN,
            "moves": array(ref("LegacyMove")),
            "player1": ref("LegacyPlayer"),
            "player2": ref("LegacyPlayer"),
            "winner": ref("LegacyPlayer"),
        }
    ),
    "LegacyRound": obj(
        {
            "roll": ref("LegacyRoll"),
            "computer_roll": ref("LegacyRoll"),
            "player": ref("LegacyPlayer"),
            "opponent": ref("LegacyPlayer"),
            "round_outcome": {"type": "string", "enum": ["win", "lose", "tie"]},
            "is_final_round": BOOLEAN,
            "round_number": INTEGER,
        }
    ),
}
