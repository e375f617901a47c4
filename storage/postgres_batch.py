"""A batch of saves on PostgreSQL: one transaction of three round trips, however many it holds.

``BEGIN``, one statement whose parts insert the new games, update the saved ones (``UPDATE … FROM
json_populate_recordset(…) RETURNING id``), insert their new rounds (skipping those already
stored) and their events, each from one JSON array parameter, and ``COMMIT`` (a rated game's end
adds one statement for the ratings).  A save of a game that was never created updates no row,
which the statement's answer shows, and the batch rolls back with ``NeverCreated``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from storage import sql
from storage.base import StaleRating
from storage.engine import NeverCreated, Save

__all__ = ["Connection", "apply"]

Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

_COLUMNS = [*sql.GAME_FIELDS, "seq"]
_ROUND_COLUMNS = ["game_id", "round", "move_a", "move_b", "winner", "commitment", "nonce"]
_EVENT_COLUMNS = ["game_id", "seq", "ts", "event", "data"]
# $1: the new games, $2: the saved games (a null seq keeps the stored one), $3: their rounds,
# $4: their events, each a JSON array of rows by column.  The rounds and events are only those of
# games the statement inserted or updated, so a game that was never created shows as one update
# short instead of a foreign key error.
_BATCH = f"""WITH created AS (
        INSERT INTO games ({", ".join(_COLUMNS)})
        SELECT {", ".join(_COLUMNS)} FROM json_populate_recordset(NULL::games, $1::json)
        RETURNING id
    ), updated AS (
        UPDATE games AS g
        SET {", ".join(f"{c} = v.{c}" for c in sql.GAME_FIELDS if c != "id")},
            seq = COALESCE(v.seq, g.seq)
        FROM json_populate_recordset(NULL::games, $2::json) AS v
        WHERE g.id = v.id
        RETURNING g.id
    ), saved AS (
        SELECT id FROM created UNION ALL SELECT id FROM updated
    ), new_rounds AS (
        INSERT INTO rounds ({", ".join(_ROUND_COLUMNS)})
        SELECT {", ".join(f"r.{c}" for c in _ROUND_COLUMNS)}
        FROM json_populate_recordset(NULL::rounds, $3::json) AS r
        WHERE r.game_id IN (SELECT id FROM saved)
        ON CONFLICT (game_id, round) DO NOTHING
        RETURNING 1
    ), new_events AS (
        INSERT INTO game_events ({", ".join(_EVENT_COLUMNS)})
        SELECT {", ".join(f"e.{c}" for c in _EVENT_COLUMNS)}
        FROM json_populate_recordset(NULL::game_events, $4::json) WITH ORDINALITY AS e
        WHERE e.game_id IN (SELECT id FROM saved)
        ORDER BY e.ordinality
        RETURNING 1
    )
    SELECT (SELECT COUNT(*) FROM updated) AS updated,
           (SELECT COUNT(*) FROM new_rounds) AS rounds,
           (SELECT COUNT(*) FROM new_events) AS events"""

_RATING_COLUMNS = ["name_key", "rating", "deviation", "volatility", "rated", "game_id", "ts"]
# A rated game's new ratings (storage.sql.rating_rows), one JSON array: each player's is only
# changed over the count of rated games it was read at (one row of a player per statement, so a
# second row of the same player is refused too), then the history rows; the answer is how many
# ratings changed.
_RATINGS = """WITH v AS (
        SELECT * FROM json_to_recordset($1::json) AS r(
            name_key text, rating float8, deviation float8, volatility float8, rated integer,
            game_id text, ts bigint)
    ), changed AS (
        UPDATE players AS p
        SET rating = v.rating, deviation = v.deviation, volatility = v.volatility,
            rated = p.rated + 1
        FROM v
        WHERE p.name_key = v.name_key AND p.rated = v.rated
        RETURNING p.id, v.game_id, v.ts, v.rating, v.deviation, v.volatility
    ), history AS (
        INSERT INTO rating_history (player_id, game_id, ts, rating, deviation, volatility)
        SELECT id, game_id, ts, rating, deviation, volatility FROM changed
        RETURNING 1
    )
    SELECT COUNT(*) AS changed FROM history"""


async def apply(db: Connection, saves: Sequence[Save]) -> None:
    """Store ``saves`` in one transaction, or roll back and raise (``NeverCreated``,
    ``StaleRating``, or the database's error)."""
    updates = sum(not s.create for s in saves)
    async with db.transaction(isolation="read_committed"):
        row = await db.fetchrow(
            _BATCH,
            _json([s.game for s in saves if s.create]),
            _json([s.game for s in saves if not s.create]),
            _json([dict(zip(_ROUND_COLUMNS, r, strict=True)) for s in saves for r in s.rounds]),
            _json([dict(zip(_EVENT_COLUMNS, e, strict=True)) for s in saves for e in s.events]),
        )
        assert row is not None
        if row["updated"] != updates:
            raise NeverCreated()
        ratings = [dict(zip(_RATING_COLUMNS, r, strict=True)) for s in saves for r in s.ratings]
        if ratings and await db.fetchval(_RATINGS, _json(ratings)) != len(ratings):
            raise StaleRating("a rating changed since it was read; rate the game again")


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, separators=(",", ":"))
