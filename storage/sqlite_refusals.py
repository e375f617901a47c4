"""What the caller of a save that SQLite refused is told: ``StaleGame``, or the error.

SQLite's batch (``storage.sqlite``) learns only that a save was refused: the games updated fall
short (the compare-and-set on ``seq``, or a game never created).  Once a save has failed alone and
rolled back, one lookup on the writer (which nothing else writes through meanwhile) says which it
was, so the lookup costs nothing while saves succeed.
"""

from __future__ import annotations

import sqlite3

import aiosqlite

from storage.engine import NeverCreated, Save, unmatched

__all__ = ["refused"]


async def refused(db: aiosqlite.Connection, save: Save, exc: BaseException) -> BaseException:
    """What the caller of ``save``, refused with ``exc`` and rolled back, is told."""
    try:
        if isinstance(exc, NeverCreated) and not save.create:
            rows = list(
                await db.execute_fetchall("SELECT seq FROM games WHERE id = ?", [save.game_id])
            )
            return unmatched(save, int(rows[0]["seq"]) if rows else None)
    except sqlite3.Error:
        pass  # the database's trouble: the save's own error says enough
    return exc
