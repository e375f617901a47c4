"""Migration 6 on each backend (several nodes as one hub): a database of schema version 5 gets its
live games' seats and right seqs, and the sweep of the games due reads an index (on PostgreSQL
since migration 8 the index of the live games)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg

from protocol.game import COMPUTER, Game
from storage import sql
from storage.base import Storage
from storage.live import _OVERDUE
from storage.postgres import MIGRATIONS as POSTGRES_MIGRATIONS
from storage.postgres import PostgresStorage, numbered
from storage.sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from storage.sqlite import SQLiteStorage
from tests.postgres import schema_url
from tests.storage.contract import RPS3, T0

VERSION = 5  # the schema before live seats


def game_row(
    game_id: str, players: tuple[str, str], started: int, *, over: bool = False
) -> dict[str, Any]:
    """A ``games`` row of schema version 5 (every column of today's but ``expected``)."""
    game, _ = Game.start(
        id=game_id, rules=RPS3, best_of=3, players=players, now=started,
        rng=random.Random(0), epoch="e",
    )  # fmt: skip
    if over:
        game.resign(players[0], now=started + 1)
    return sql.game_row(game, [])


# Dana plays two live games (old data: the older one keeps her seat); finn's game is over; gus's
# row says seq 0 though two events of its topic are stored.
ROWS = [
    game_row("old1", ("Dana", COMPUTER), T0),
    game_row("old2", ("Eve", "dana"), T0 + 1),
    game_row("done", ("finn", COMPUTER), T0 + 2, over=True),
    game_row("drift", ("gus", COMPUTER), T0 + 3),
]
EVENTS = [("drift", seq, T0, "round_open", "{}") for seq in (1, 2)]


async def check_migrated(storage: Storage) -> None:
    """What migration 6 made of ``ROWS`` and ``EVENTS``."""
    seats = {p: await storage.live_game_of(p) for p in ("dana", "EVE", "finn", "gus", COMPUTER)}
    assert seats == {"dana": "old1", "EVE": "old2", "finn": None, "gus": "drift", COMPUTER: None}
    assert await storage.heads(["drift", "old1", "done"]) == {"drift": 2, "old1": 0, "done": 0}
    second = await storage.game("old2")
    assert second is not None
    second.resign("Eve", now=T0 + 10)
    await storage.save_game(second, [])  # ending dana's second game leaves her first one's seat
    assert (await storage.live_game_of("dana"), await storage.live_game_of("eve")) == ("old1", None)


async def test_migrating_a_fifth_schema_file_seats_live_games_and_sets_seqs(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for statements in SQLITE_MIGRATIONS[:VERSION]:
            for statement in statements:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {VERSION}")
        for row in ROWS:
            names = ", ".join(row)
            db.execute(
                f"INSERT INTO games ({names}) VALUES ({', '.join(':' + c for c in row)})", row
            )
        db.executemany("INSERT INTO game_events VALUES (?, ?, ?, ?, ?)", EVENTS)
    finally:
        db.close()
    storage = await SQLiteStorage.open(str(path))
    try:
        await check_migrated(storage)
    finally:
        await storage.close()


async def test_migrating_a_fifth_schema_seats_live_games_and_sets_seqs(
    schema: str, db: asyncpg.Connection
) -> None:
    async with db.transaction():
        await db.execute(f'SET LOCAL search_path TO "{schema}"')
        for statements in POSTGRES_MIGRATIONS[:VERSION]:
            for statement in statements:
                await db.execute(statement)
        await db.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)"
        )
        await db.executemany(
            "INSERT INTO schema_migrations VALUES ($1, 0)", [(n,) for n in range(1, VERSION + 1)]
        )
        for row in ROWS:
            places = ", ".join(f"${n}" for n in range(1, len(row) + 1))
            await db.execute(
                f"INSERT INTO games ({', '.join(row)}) VALUES ({places})", *row.values()
            )
        await db.executemany("INSERT INTO game_events VALUES ($1, $2, $3, $4, $5)", EVENTS)
    storage = await PostgresStorage.open(schema_url(schema))
    try:
        await check_migrated(storage)
    finally:
        await storage.close()


# -- the sweep's index -------------------------------------------------------------------------


async def test_the_sweep_of_the_games_due_searches_their_index_on_sqlite(tmp_path: Path) -> None:
    await (await SQLiteStorage.open(str(tmp_path / "hub.db"))).close()
    db = sqlite3.connect(tmp_path / "hub.db")
    try:
        plan = db.execute(f"EXPLAIN QUERY PLAN {_OVERDUE}", (T0, 100)).fetchall()
    finally:
        db.close()
    assert [row[-1] for row in plan] == [
        "SEARCH games USING INDEX games_due (status=? AND <expr><?)"
    ]


async def test_the_sweep_of_the_games_due_reads_the_live_games_by_their_index_on_postgres(
    schema: str, db: asyncpg.Connection
) -> None:
    # No index over the due time there (migration 8: a move's update would not be HOT); the
    # index of the live games alone finds the rows to work it out from, never the whole table.
    await (await PostgresStorage.open(schema_url(schema))).close()
    async with db.transaction():
        await db.execute(f'SET LOCAL search_path TO "{schema}"')
        plan = "\n".join(row[0] for row in await db.fetch(f"EXPLAIN {numbered(_OVERDUE)}", T0, 9))
    assert "Index Scan using games_live on games" in plan
    assert "Seq Scan" not in plan
