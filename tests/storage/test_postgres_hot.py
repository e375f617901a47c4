"""On PostgreSQL a move's update of its game's row is HOT (heap-only).

A HOT update writes the row's new version on its own page and adds nothing to any index; it can
be one only when no index of the table holds a column the update changes and the page has room.
Every move updates its game's row, so whether those updates are HOT is most of what PostgreSQL
spends on a move at a busy hub: with the due-time index (it held the round's deadline) and pages
packed full, 10% were at 1,000 players, each other one adding an entry to all seven indexes of
``games`` (migration 8; ``benchmarks/writer.py --pg`` reports the share).
"""

from __future__ import annotations

import asyncio

import asyncpg

from protocol.game import COMPUTER
from storage import sql
from storage.postgres import PostgresStorage
from tests.conftest import eventually
from tests.postgres import schema_url
from tests.storage.contract import Table

GAMES = 150  # rows enough to fill several pages: a packed page has no room for a new version
MOVES = 6  # each game's (best of 15: none ends), every round with a deadline, which it moves

# Each index of ``games`` and every column it holds: in its key, in an expression or in its
# predicate (the columns an expression or a predicate reads are the index's dependencies).
_INDEX_COLUMNS = """
    SELECT c.relname AS index, a.attname AS column
    FROM pg_index AS i
    JOIN pg_class AS c ON c.oid = i.indexrelid
    JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE i.indrelid = $1::regclass
    UNION
    SELECT c.relname, a.attname
    FROM pg_depend AS d
    JOIN pg_class AS c ON c.oid = d.objid
    JOIN pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_class'::regclass AND c.relkind = 'i' AND d.refobjid = $1::regclass
"""


async def test_no_index_of_games_holds_a_column_a_move_changes(
    schema: str, db: asyncpg.Connection
) -> None:
    await (await PostgresStorage.open(schema_url(schema))).close()
    rows = await db.fetch(_INDEX_COLUMNS, f'"{schema}".games')
    held: dict[str, set[str]] = {}
    for row in rows:
        held.setdefault(row["index"], set()).add(row["column"])
    assert held["games_pkey"] == {"id"}  # the query sees key columns
    assert held["games_by_player_a"] == {"player_a", "started", "id"}  # and an expression's
    changed = {*sql.PLAYING_FIELDS, "seq"}
    assert {name: sorted(cols & changed) for name, cols in held.items() if cols & changed} == {}


async def hot_share(db: asyncpg.Connection, schema: str, updates: int) -> float:
    """The share of ``games``' updates that were HOT, once PostgreSQL has counted ``updates``
    (a backend reports its counts when it ends: the store's connections, just closed)."""
    counts: list[asyncpg.Record] = []

    async def counted() -> bool:
        row = await db.fetchrow(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
            " WHERE schemaname = $1 AND relname = 'games'",
            schema,
        )
        counts[:] = [row] if row is not None else []
        return row is not None and row["n_tup_upd"] >= updates

    await eventually(counted)
    return float(counts[0]["n_tup_hot_upd"]) / counts[0]["n_tup_upd"]


async def test_moves_with_round_deadlines_update_their_games_rows_heap_only(
    schema: str, db: asyncpg.Connection
) -> None:
    storage = await PostgresStorage.open(schema_url(schema))
    try:
        tables = [
            await Table.start(
                storage, (f"p{i}", COMPUTER), id=f"g{i:04d}", best_of=15, round_seconds=30, seed=i
            )
            for i in range(GAMES)
        ]
        for _ in range(MOVES):  # every game moves at once: the saves go in batches
            await asyncio.gather(*(t.move(t.game.players[0], "Rock") for t in tables))
        assert all(t.game.round == MOVES + 1 and t.game.deadline for t in tables)
    finally:
        await storage.close()
    # 84% here (a page's updates in one batch share its room until the batch commits and their
    # old versions can be pruned); 20% with pages packed full, none with an index over the
    # deadline.
    assert await hot_share(db, schema, GAMES * MOVES) >= 0.75
