"""How the SQLite writer stores a batch of saves: one transaction on the writer's thread.

``BEGIN IMMEDIATE``, each table's rows (the games inserted, the games updated, their new rounds,
their events) and ``COMMIT``.  The rows a move brings (its game's update, its round, its events)
go in statements of many rows each: ``sqlite3`` gives up the GIL for each step of a statement and
waits to take it back, behind the event loop: a statement a row made a batch of 180 moves wait for
it some 540 times, statements of up to ``CHUNKS[0]`` rows about 30.  A game still playing is
updated in the columns a move can change only, so a move rewrites no index entry but the live
games' due time (``games_due``); a game that ended is updated whole.

When that transaction fails for a save's own reason (an integrity error, a game that was never
created or that changed since it was read, a seat already taken), it rolls back and each save
runs alone in a transaction of its own, so only the bad one fails (``storage.sqlite_refusals``
says why); an operational error (the file is locked past the busy timeout, the disk is full)
fails the whole batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import chain
from typing import Any

from storage import sql
from storage.base import StaleRating
from storage.engine import NeverCreated, Save
from storage.sqlite_refusals import refused

__all__ = ["PLAYING_FIELDS", "store_batch"]

# Statements of many rows take a batch's rows ``CHUNKS[0]`` at a time, then fewer for the rest:
# a few texts (each compiled once, in the connection's cache of statements) for any batch.
CHUNKS = (64, 16, 4, 1)


def _statements(template: str, width: int) -> dict[int, str]:
    """``template`` with ``{rows}`` as the VALUES of each size in ``CHUNKS``, by size."""
    row = f"({', '.join(['?'] * width)})"
    return {n: template.format(rows=f"VALUES {', '.join([row] * n)}") for n in CHUNKS}


def _update(fields: Sequence[str], row: Sequence[str]) -> dict[int, str]:
    """An update of ``fields`` (and the seq) of the games whose ``row`` values (``id``, ``seq``
    and ``expected`` among them) are the VALUES it joins ``games`` to, by id (found by the
    primary key's index: tests/storage/test_sqlite_batch.py).  A save without events keeps the
    stored seq (its seq is None); a game's row changes only while its seq is still the expected
    one (compare-and-set, when that is not None)."""

    def value(name: str) -> str:
        return f"v.column{list(row).index(name) + 1}"

    return _statements(
        f"UPDATE games SET {', '.join(f'{f} = {value(f)}' for f in fields)},"
        f" seq = COALESCE({value('seq')}, games.seq) FROM ({{rows}}) AS v"
        f" WHERE games.id = {value('id')}"
        f" AND ({value('expected')} IS NULL OR games.seq = {value('expected')})",
        len(row),
    )


# A new game's whole row; a game that ended, its whole row and the seq it expects: their values
# in this order (taken from ``sql.save_row``'s dict, made for these few saves a batch).
_GAME_ROW = (*sql.GAME_FIELDS, "seq")
_ENDED_ROW = (*_GAME_ROW, "expected")
_INSERT_GAMES = _statements(f"INSERT INTO games ({', '.join(_GAME_ROW)}) {{rows}}", len(_GAME_ROW))
_UPDATE_ENDED = _update([f for f in sql.GAME_FIELDS if f != "id"], _ENDED_ROW)
# A game still playing is updated in ``sql.PLAYING_FIELDS`` only (its ``sql.PLAYING_ROW``):
# SQLite rewrites an index entry for every indexed column an UPDATE sets, changed or not.
PLAYING_FIELDS = sql.PLAYING_FIELDS
_UPDATE_PLAYING = _update(PLAYING_FIELDS, sql.PLAYING_ROW)
# Rounds already stored are the same rounds (a resolved round never changes): skipped.
_INSERT_ROUNDS = _statements(
    "INSERT INTO rounds (game_id, round, move_a, move_b, winner, commitment, nonce)"
    " {rows} ON CONFLICT (game_id, round) DO NOTHING",
    7,
)
_INSERT_EVENTS = _statements("INSERT INTO game_events (game_id, seq, ts, event, data) {rows}", 5)
# A rated game's new ratings, from storage.sql.rating_rows: each player's is only changed over the
# count of rated games it was read at; then the history row.
_UPDATE_RATING = (
    "UPDATE players SET rating = ?, deviation = ?, volatility = ?, rated = rated + 1"
    " WHERE name_key = ? AND rated = ?"
)
_INSERT_RATING = (
    "INSERT INTO rating_history (player_id, game_id, ts, rating, deviation, volatility)"
    " SELECT id, ?, ?, ?, ?, ? FROM players WHERE name_key = ?"
)


def store_batch(db: sqlite3.Connection, saves: Sequence[Save]) -> list[BaseException | None]:
    """The batch's outcomes, on the writer's thread (see the module's docstring)."""
    try:
        _apply(db, saves)
        return [None] * len(saves)
    except sqlite3.OperationalError as exc:
        return [exc] * len(saves)  # the database's trouble, not one save's
    except Exception as exc:
        if len(saves) == 1:
            return [refused(db, saves[0], exc)]
    outcomes: list[BaseException | None] = []
    for save in saves:
        try:
            _apply(db, [save])
            outcomes.append(None)
        except Exception as exc:
            outcomes.append(refused(db, save, exc))
    return outcomes


def _apply(db: sqlite3.Connection, saves: Sequence[Save]) -> None:
    """Store ``saves`` in one transaction, or roll back and raise."""
    db.execute("BEGIN IMMEDIATE")
    try:
        created: list[tuple[Any, ...]] = []
        playing: list[tuple[Any, ...]] = []
        ended: list[tuple[Any, ...]] = []
        for s in saves:
            if isinstance(s.game, tuple):
                playing.append(s.game)
            elif s.create:
                created.append(tuple([s.game[c] for c in _GAME_ROW]))
            else:
                ended.append(tuple([s.game[c] for c in _ENDED_ROW]))
        rounds = [row for s in saves for row in s.rounds]
        events = [row for s in saves for row in s.events]
        _many(db, _INSERT_GAMES, created)
        changed = _many(db, _UPDATE_PLAYING, playing) + _many(db, _UPDATE_ENDED, ended)
        if changed != len(playing) + len(ended):
            raise NeverCreated()
        _many(db, _INSERT_ROUNDS, rounds)
        _many(db, _INSERT_EVENTS, events)
        ratings = [row for s in saves for row in s.ratings]
        if ratings:
            updates = [(r[1], r[2], r[3], r[0], r[4]) for r in ratings]
            if db.executemany(_UPDATE_RATING, updates).rowcount != len(ratings):
                raise StaleRating("a rating changed since it was read; rate the game again")
            history = [(r[5], r[6], r[1], r[2], r[3], r[0]) for r in ratings]
            db.executemany(_INSERT_RATING, history)
        db.commit()
    except BaseException:
        db.rollback()  # a no-op when no transaction is open
        raise


def _many(db: sqlite3.Connection, statements: dict[int, str], rows: list[tuple[Any, ...]]) -> int:
    """Run ``statements`` (``_statements``) over ``rows``, as many a statement as ``CHUNKS``
    allows; how many rows they changed."""
    changed = at = 0
    left = len(rows)
    for size in CHUNKS:
        while left >= size:
            params = tuple(chain.from_iterable(rows[at : at + size]))
            changed += db.execute(statements[size], params).rowcount
            at += size
            left -= size
    return changed
