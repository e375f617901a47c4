"""What the PostgreSQL batch leaves out: the rounds and events of a game it did not store.

Since migration 9 no foreign key stands between ``rounds`` or ``game_events`` and ``games``; the
batch statement itself inserts a game's rows only when it inserted or changed the game's row.
"""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from protocol.game import COMPUTER, Game
from storage.base import StorageError
from storage.postgres import PostgresStorage
from tests.postgres import schema_url
from tests.storage.contract import RPS3, T0, Table


async def rows_of(db: asyncpg.Connection, schema: str, game_id: str) -> dict[str, int]:
    """How many rows of ``game_id`` each of ``games``, ``rounds`` and ``game_events`` holds."""
    out = {}
    for table, column in (("games", "id"), ("rounds", "game_id"), ("game_events", "game_id")):
        query = f'SELECT COUNT(*) FROM "{schema}".{table} WHERE {column} = $1'
        out[table] = await db.fetchval(query, game_id)
    return out


def ghost(storage: PostgresStorage) -> Table:
    """A game against the computer that was never created in ``storage``."""
    game, _ = Game.start(
        id="ghost", rules=RPS3, best_of=3, players=("p9", COMPUTER), now=T0,
        rng=random.Random(0), epoch="e",
    )  # fmt: skip
    return Table(storage, game, random.Random(1), T0)


@pytest.mark.parametrize("others", [0, 5])
async def test_the_rounds_and_events_of_a_game_never_created_are_not_stored(
    schema: str, db: asyncpg.Connection, others: int
) -> None:
    storage = await PostgresStorage.open(schema_url(schema))
    try:
        tables = [
            await Table.start(storage, (f"p{i}", COMPUTER), id=f"g{i}", seed=i)
            for i in range(others)
        ]
        lost = ghost(storage)
        events = lost.play("p9", "Rock")  # a round resolved: a round row and an event row
        assert lost.game.rounds and events
        saved = await asyncio.gather(
            storage.save_game(lost.game, events),
            *(t.move(t.game.players[0], "Paper") for t in tables),
            return_exceptions=True,
        )
        assert isinstance(saved[0], StorageError) and "never created" in str(saved[0])
        assert saved[1:] == [None] * others  # the others in its batch are stored
        for t in tables:
            assert await rows_of(db, schema, t.game.id) == {
                "games": 1, "rounds": 1, "game_events": 2,
            }  # fmt: skip
    finally:
        await storage.close()
    assert await rows_of(db, schema, "ghost") == {"games": 0, "rounds": 0, "game_events": 0}
