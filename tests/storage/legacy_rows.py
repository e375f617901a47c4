"""Games as the first schema stored them, for the tests of migrating a database forward."""

from __future__ import annotations

import random
import uuid
from typing import Any

from protocol.game import COMPUTER, Game
from protocol.rules import builtin_rules
from storage import sql

T0 = 1_700_000_000_000
# Columns that later migrations added: a row of the first schema has none of them.
ADDED = ("idle_seconds", "idle_until", "rating_change", "level")


def first_schema_row(game_id: str, players: tuple[str, str] = ("Dana", COMPUTER)) -> dict[str, Any]:
    """A live rps15 game without deadlines, as a ``games`` row of schema version 1."""
    game, _ = Game.start(
        id=game_id,
        rules=builtin_rules()["rps15"],
        best_of=5,
        players=players,
        now=T0,
        rng=random.Random(0),
        epoch="e",
    )
    row = sql.game_row(game, [])
    for column in ADDED:
        del row[column]
    return row


LEGACY_ID = str(uuid.UUID(int=7, version=4))  # the legacy API's games have uuid ids
OTHER_ID = "abcdefghijkl"  # every other game's id: 12 url-safe characters
