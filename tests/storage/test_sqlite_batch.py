"""The SQLite writer's batch (``storage.sqlite_batch``) in statements of many rows: a batch of any
size stores each move's rows, each new game and each game's end once, a stale save in a statement
of many fails alone, and the updates of a batch's games find each by its key."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from protocol.game import COMPUTER, Game
from storage import sql
from storage.base import StaleGame
from storage.engine import Save
from storage.sqlite import SQLiteStorage
from storage.sqlite_batch import _UPDATE_ENDED, _UPDATE_PLAYING, CHUNKS, store_batch
from tests.storage.contract import (
    RPS3,
    T0,
    Table,
    against_the_computer,
    assert_same_game,
    register,
)

# Under, at and over each chunk's size, and several chunks of each.
SIZES = [1, 3, 4, 5, 16, 21, 63, 64, 85, 150]


async def tables_on_file(path: str, n: int) -> list[Table]:
    """``n`` games against the computer, created in the database file at ``path``."""
    storage = await SQLiteStorage.open(path)
    try:
        return await against_the_computer(storage, n)
    finally:
        await storage.close()


def move_saves(tables: list[Table]) -> list[Save]:
    """A move in each table's game, as the writer makes its save (``storage.writer``)."""
    saves = []
    for t in tables:
        before = len(t.game.rounds)
        events = t.play(t.game.players[0], "Rock")
        row = sql.save_row(t.game, events, create=False, expected=events[0].seq - 1)
        rounds = sql.round_rows(t.game, t.game.rounds[before:])
        saves.append(Save(False, t.game.id, row, rounds, sql.event_rows(t.game.id, events)))
    return saves


def store(path: str, saves: list[Save]) -> list[BaseException | None]:
    """``saves`` stored as one batch, on a connection set up as the writer's."""
    db = sqlite3.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
        db.execute("PRAGMA foreign_keys = ON")
        return store_batch(db, saves)
    finally:
        db.close()


async def assert_stored(path: str, tables: list[Table]) -> None:
    """Each table's game, its rounds and each of its events, stored once."""
    storage = await SQLiteStorage.open(path)
    try:
        for t in tables:
            assert_same_game(await storage.game(t.game.id), t.game)
            seqs = [e.seq for e in await storage.events(t.game.id, 0)]
            assert seqs == list(range(1, t.seq + 1))
    finally:
        await storage.close()


@pytest.mark.parametrize("n", [1, 5, 21, 70])
async def test_a_batch_of_new_games_and_games_that_end_stores_each_once(
    tmp_path: Path, n: int
) -> None:
    """``n`` games end (their players play a round, then resign) and ``n`` new ones start, in
    one batch."""
    path = str(tmp_path / "batch.db")
    tables = await tables_on_file(path, n)
    storage = await SQLiteStorage.open(path)
    try:
        await register(storage, *[f"q{i:03}" for i in range(n)])
    finally:
        await storage.close()
    saves, new = [], []
    for i, t in enumerate(tables):
        events = t.play(t.game.players[0], "Rock")
        events += t.events(t.game.resign(t.game.players[0], now=t.now))
        row = sql.save_row(t.game, events, create=False, expected=events[0].seq - 1)
        rounds = sql.round_rows(t.game, t.game.rounds)
        saves.append(Save(False, t.game.id, row, rounds, sql.event_rows(t.game.id, events)))
        rng = random.Random(i)
        game, effects = Game.start(
            id=f"n{i:03}", rules=RPS3, best_of=5, players=(f"q{i:03}", COMPUTER), now=T0,
            rng=rng, epoch="e",
        )  # fmt: skip
        table = Table(t.storage, game, rng, T0)
        events = table.events(effects)
        row = sql.save_row(game, events, create=True, expected=None)
        saves.append(Save(True, game.id, row, [], sql.event_rows(game.id, events)))
        new.append(table)
    assert store(path, saves) == [None] * len(saves)
    await assert_stored(path, tables + new)


@pytest.mark.parametrize("n", SIZES)
async def test_a_batch_of_any_size_stores_each_moves_rows_once(tmp_path: Path, n: int) -> None:
    path = str(tmp_path / "batch.db")
    tables = await tables_on_file(path, n)
    assert store(path, move_saves(tables)) == [None] * n
    await assert_stored(path, tables)


async def test_a_stale_save_in_a_statement_of_many_fails_alone(tmp_path: Path) -> None:
    path = str(tmp_path / "batch.db")
    tables = await tables_on_file(path, CHUNKS[0] + 6)
    saves = move_saves(tables)
    stale = 30  # in the first chunk: its statement updates every game but this one
    row = saves[stale].game
    assert isinstance(row, tuple)
    saves[stale] = Save(False, saves[stale].game_id, (*row[:-1], row[-1] - 1), [], [])
    outcomes = store(path, saves)
    assert isinstance(outcomes[stale], StaleGame)
    assert [o for i, o in enumerate(outcomes) if i != stale] == [None] * (len(saves) - 1)
    await assert_stored(path, tables[:stale] + tables[stale + 1 :])
    storage = await SQLiteStorage.open(path)
    try:
        assert await storage.last_seq(tables[stale].game.id) == 1  # as it was created
    finally:
        await storage.close()


@pytest.mark.parametrize("analyzed", [False, True])
async def test_the_update_of_a_batchs_games_finds_each_by_its_key(
    tmp_path: Path, analyzed: bool
) -> None:
    """Each chunk's updates look their games up by the primary key, never read ``games`` whole:
    on a table never analyzed (the hub runs no ANALYZE) and on a small one that was."""
    path = str(tmp_path / "plan.db")
    await tables_on_file(path, 3)
    db = sqlite3.connect(path)
    try:
        if analyzed:
            db.execute("ANALYZE")
        for statements in (_UPDATE_PLAYING, _UPDATE_ENDED):
            for text in statements.values():
                params = [None] * text.count("?")
                plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {text}", params)]
                assert "SEARCH games USING INDEX sqlite_autoindex_games_1 (id=?)" in plan
                assert not [step for step in plan if step.startswith("SCAN games")]
    finally:
        db.close()
