"""What the caller of a save that SQLite refused is told: ``StaleGame``, ``SeatTaken`` or the error.

SQLite's batch (``storage.sqlite``) learns only that a save was refused: the games updated fall
short (the compare-and-set on ``seq`` or a game never created), or a trigger's insert into
``live_seats`` broke its key.  Once a save has failed alone and rolled back, one lookup on the
writer (which nothing else writes through meanwhile) says which it was, so the lookup costs
nothing while saves succeed.
"""

from __future__ import annotations

import sqlite3

from protocol.game import COMPUTER
from storage import sql
from storage.base import SeatTaken
from storage.engine import NeverCreated, Save, unmatched

__all__ = ["refused"]


def refused(db: sqlite3.Connection, save: Save, exc: BaseException) -> BaseException:
    """What the caller of ``save``, refused with ``exc`` and rolled back, is told (on the
    writer's thread)."""
    try:
        if isinstance(exc, NeverCreated) and not save.create:
            rows = db.execute("SELECT seq FROM games WHERE id = ?", [save.game_id]).fetchall()
            return unmatched(save, int(rows[0]["seq"]) if rows else None)
        if save.create and isinstance(exc, sqlite3.IntegrityError) and "live_seats" in str(exc):
            return _seat_taken(db, save) or exc
    except sqlite3.Error:
        pass  # the database's trouble: the save's own error says enough
    return exc


def _seat_taken(db: sqlite3.Connection, save: Save) -> SeatTaken | None:
    """The first seat of a new game that another live game holds, as ``SeatTaken``."""
    game = save.game
    assert isinstance(game, dict)  # a new game's whole row
    seats = [game["player_a"], game["player_b"]]
    humans = {sql.key(seat): seat for seat in seats if sql.key(seat) != COMPUTER}
    rows = db.execute(
        "SELECT player, game_id FROM live_seats WHERE player IN (SELECT value FROM json_each(?))",
        [sql.json_list(list(humans))],
    ).fetchall()
    held = {row["player"]: row["game_id"] for row in rows}
    for player, seat in humans.items():
        if player in held:
            return SeatTaken(seat, held[player])
    return None
