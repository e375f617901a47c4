"""A batch of saves on PostgreSQL: one statement, one round trip, however many it holds.

One statement whose parts insert the new games, update the saved ones, insert their new rounds
(skipping those already stored) and their events (the new games and the games that ended from
JSON array parameters, the rows every move brings column by column from array parameters); a
statement is atomic, so it runs as a transaction of its own (the connections' default isolation
is READ COMMITTED, set when they connect).  A batch with a rated game's end needs a second
statement for the ratings: ``BEGIN``, the two, ``COMMIT``.  The event loop hands one batch to the
next (asyncpg runs on it), and each round trip waits for a turn of a busy loop: one a batch, not
three.

An update is a compare-and-set: it changes a game's row only while the stored ``seq`` is still
the one the save follows (``UPDATE … WHERE g.id = v.id AND g.seq = expected``; a save without
events and without an expected seq changes it whatever its seq).  At READ COMMITTED an update
waits for another transaction holding the row and then reads the committed row again, so of two
saves racing from two hubs over the same seq exactly one changes the row.  The rounds and
events inserted are only those of games the statement inserted or changed, so a save that lost
the race stores nothing and the rest of the batch commits: it fails alone, with ``StaleGame``,
without a retry.  A game that was never created shows the same way and fails alone too, with
``NeverCreated`` (in a batch with ratings, the transaction rolls back and raises it instead, so
``storage.postgres`` stores each save alone, as for any save failing for its own reason).

Inserting a live game seats its humans (a trigger of migration 6, in the same statement): a seat
already held raises ``unique_violation`` on ``live_seats_pkey``, and the batch rolls back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from storage import sql
from storage.base import StaleRating
from storage.engine import NeverCreated, Save, unmatched

__all__ = ["BATCH", "SETTINGS", "Connection", "apply", "arguments"]

Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

# What the connection batches run on is set to, once (``storage.postgres``): the planner may not
# read a table whole where an index answers.  The statements below find every row they change by
# its key, and PostgreSQL keeps a prepared statement's generic plan: one made while ``games`` was
# small or never analyzed (a new database's first minutes) joined each batch to the whole table,
# by a sequential scan growing with it, until an ANALYZE.  A table no index serves is still read
# (the setting makes a sequential scan dear to the planner, not impossible).
SETTINGS = "SET enable_seqscan = off"

_COLUMNS = [*sql.GAME_FIELDS, "seq"]
_ROUND_COLUMNS = ["game_id", "round", "move_a", "move_b", "winner", "commitment", "nonce"]
_EVENT_COLUMNS = ["game_id", "seq", "ts", "event", "data"]
# The rows every move brings, each column an array parameter (asyncpg sends arrays in binary, and
# unnest reads them without parsing): a game still playing (``sql.PLAYING_ROW``: the columns a
# move changes, seq, id and expected seq), its new rounds, its events.  New games and games that
# ended are whole rows in JSON, as they are few.
_TYPES = {
    "id": "text", "score_a": "integer", "score_b": "integer", "round": "integer",
    "deadline": "bigint", "secret_roll": "text", "secret_nonce": "text", "pending": "text",
    "idle_until": "bigint", "seq": "bigint", "expected": "bigint",
    "game_id": "text", "move_a": "text", "move_b": "text", "winner": "text",
    "commitment": "text", "nonce": "text", "ts": "bigint", "event": "text", "data": "text",
}  # fmt: skip
_PLAYING_COLUMNS = list(sql.PLAYING_ROW)


def _unnest(columns: list[str], first: int) -> str:
    """``unnest($first::type[], ...)``: ``columns`` from array parameters numbered from
    ``first`` (the caller names them)."""
    arrays = ", ".join(f"${first + i}::{_TYPES[c]}[]" for i, c in enumerate(columns))
    return f"unnest({arrays})"


# Where each table's array parameters start.
_PLAYING_AT = 3
_ROUNDS_AT = _PLAYING_AT + len(_PLAYING_COLUMNS)
_EVENTS_AT = _ROUNDS_AT + len(_ROUND_COLUMNS)
_ENDED_IDS_AT = _EVENTS_AT + len(_EVENT_COLUMNS)
# $1: the new games, $2: the games that ended (a null seq keeps the stored one; each with the seq
# it expects, or null), as JSON arrays of rows by column; then the columns of the games still
# playing, of the rounds and of the events; last the ids of the games that ended.  Each update
# names its games' ids as an array too (``g.id = ANY(...)``): a condition the primary key's index
# answers, so that with ``SETTINGS`` no plan of the statement reads the whole table.  The answer
# is the ids of the games updated; a saved game missing there was stale or never created.
BATCH = f"""WITH created AS (
        INSERT INTO games ({", ".join(_COLUMNS)})
        SELECT {", ".join(_COLUMNS)} FROM json_populate_recordset(NULL::games, $1::json)
        RETURNING id
    ), ended AS (
        UPDATE games AS g
        SET {", ".join(f"{c} = v.{c}" for c in sql.GAME_FIELDS if c != "id")},
            seq = COALESCE(v.seq, g.seq)
        FROM json_array_elements($2::json) AS j, json_populate_record(NULL::games, j) AS v
        WHERE g.id = ANY(${_ENDED_IDS_AT}::text[]) AND g.id = v.id
            AND (j ->> 'expected' IS NULL OR g.seq = (j ->> 'expected')::bigint)
        RETURNING g.id
    ), playing AS (
        UPDATE games AS g
        SET {", ".join(f"{c} = v.{c}" for c in sql.PLAYING_FIELDS)}, seq = COALESCE(v.seq, g.seq)
        FROM {_unnest(_PLAYING_COLUMNS, _PLAYING_AT)} AS v({", ".join(_PLAYING_COLUMNS)})
        WHERE g.id = ANY(${_PLAYING_AT + _PLAYING_COLUMNS.index("id")}::text[]) AND g.id = v.id
            AND (v.expected IS NULL OR g.seq = v.expected)
        RETURNING g.id
    ), updated AS (
        SELECT id FROM ended UNION ALL SELECT id FROM playing
    ), saved AS (
        SELECT id FROM created UNION ALL SELECT id FROM updated
    ), new_rounds AS (
        INSERT INTO rounds ({", ".join(_ROUND_COLUMNS)})
        SELECT {", ".join(f"r.{c}" for c in _ROUND_COLUMNS)}
        FROM {_unnest(_ROUND_COLUMNS, _ROUNDS_AT)} AS r({", ".join(_ROUND_COLUMNS)})
        WHERE r.game_id IN (SELECT id FROM saved)
        ON CONFLICT (game_id, round) DO NOTHING
        RETURNING 1
    ), new_events AS (
        INSERT INTO game_events ({", ".join(_EVENT_COLUMNS)})
        SELECT {", ".join(f"e.{c}" for c in _EVENT_COLUMNS)}
        FROM {_unnest(_EVENT_COLUMNS, _EVENTS_AT)}
            WITH ORDINALITY AS e({", ".join(_EVENT_COLUMNS)}, n)
        WHERE e.game_id IN (SELECT id FROM saved)
        ORDER BY e.n
        RETURNING 1
    )
    SELECT ARRAY(SELECT id FROM updated) AS updated,
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


async def apply(db: Connection, saves: Sequence[Save]) -> list[BaseException | None]:
    """Store ``saves`` atomically: one outcome per save, None when it is committed, and
    ``StaleGame`` or ``NeverCreated`` when it matched no stored row (and stored nothing); or
    store none and raise (``StaleRating``, ``NeverCreated`` in a batch with ratings, or the
    database's error)."""
    if not any(s.ratings for s in saves):
        return await _store(db, saves, atomic=False)
    async with db.transaction(isolation="read_committed"):
        return await _store(db, saves, atomic=True)


async def _store(
    db: Connection, saves: Sequence[Save], *, atomic: bool
) -> list[BaseException | None]:
    """The batch's statement, and the ratings' when ``atomic`` (in the caller's transaction)."""
    refused: dict[str, BaseException] = {}
    row = await db.fetchrow(BATCH, *arguments(saves))
    assert row is not None
    if len(row["updated"]) != sum(not s.create for s in saves):
        refused = await _unmatched(db, saves, set(row["updated"]))
        if atomic and any(isinstance(exc, NeverCreated) for exc in refused.values()):
            raise NeverCreated()
    ratings = [
        dict(zip(_RATING_COLUMNS, r, strict=True))
        for s in saves
        if s.game_id not in refused
        for r in s.ratings
    ]
    if ratings and await db.fetchval(_RATINGS, _json(ratings)) != len(ratings):
        raise StaleRating("a rating changed since it was read; rate the game again")
    return [refused.get(s.game_id) for s in saves]


def arguments(saves: Sequence[Save]) -> list[Any]:
    """``BATCH``'s parameters for ``saves``."""
    created: list[dict[str, Any]] = []
    playing: list[tuple[Any, ...]] = []
    ended: list[dict[str, Any]] = []
    for s in saves:
        if isinstance(s.game, tuple):
            playing.append(s.game)
        elif s.create:
            created.append(s.game)
        else:
            ended.append(s.game)
    return [
        _json(created),
        _json(ended),
        *_columns(playing, len(_PLAYING_COLUMNS)),
        *_columns([r for s in saves for r in s.rounds], len(_ROUND_COLUMNS)),
        *_columns([e for s in saves for e in s.events], len(_EVENT_COLUMNS)),
        [g["id"] for g in ended],
    ]


async def _unmatched(
    db: Connection, saves: Sequence[Save], updated: set[str]
) -> dict[str, BaseException]:
    """Why each update the batch made no change for failed (one lookup, only when one did):
    ``StaleGame`` or ``NeverCreated``, by id."""
    missed = [s for s in saves if not s.create and s.game_id not in updated]
    rows = await db.fetch(
        "SELECT id, seq FROM games WHERE id = ANY($1::text[])", [s.game_id for s in missed]
    )
    stored = {r["id"]: int(r["seq"]) for r in rows}
    return {s.game_id: unmatched(s, stored.get(s.game_id)) for s in missed}


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[Any]:
    """Rows of ``width`` values as that many columns (array parameters)."""
    return list(zip(*rows, strict=True)) if rows else [()] * width


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, separators=(",", ":"))
