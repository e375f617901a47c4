"""The SQLite writer behind a file another connection has locked: reads still answer, close
commits or fails what was asked for, and cancelled callers leave whole saves; and the WAL is
checkpointed beside the writer.

Another ``sqlite3`` connection holds ``BEGIN IMMEDIATE`` on the file, so the store's writer waits
in SQLite's busy handler (for up to ``BUSY_TIMEOUT_MS``) until it lets go.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import storage.sqlite
from storage import sql
from storage.base import StorageError
from storage.engine import Save
from storage.open import MEMORY
from storage.sqlite import SQLiteStorage
from tests.conftest import eventually
from tests.storage.contract import Table, against_the_computer, assert_same_game


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    """A store on a fresh file, closed after the test."""
    storage = await SQLiteStorage.open(str(tmp_path / "hub.db"))
    try:
        yield storage
    finally:
        await storage.close()


@contextmanager
def locked(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the file's write lock until the block ends."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield other
        other.execute("ROLLBACK")
    finally:
        other.close()


async def taken() -> None:
    """Let the callers' tasks ask for their writes."""
    for _ in range(5):
        await asyncio.sleep(0)


async def on_the_thread(opened: SQLiteStorage) -> None:
    """Wait until the writer's thread has taken every write asked for (the lock holds the
    batch there)."""

    async def none_left() -> bool:
        return opened.queued == 0

    await taken()
    await eventually(none_left)


async def test_reads_answer_while_the_writer_waits_for_the_file(
    opened: SQLiteStorage, tmp_path: Path
) -> None:
    [table] = await against_the_computer(opened, 1)
    before = await opened.game(table.game.id)
    with locked(tmp_path / "hub.db"):
        save = asyncio.create_task(table.move("p000", "Rock"))
        await on_the_thread(opened)
        assert await opened.game(table.game.id) == before
        assert await opened.player("P000") is not None
        assert [g.id for g in await opened.live_games()] == [table.game.id]
        assert await opened.events(table.game.id, 0) != []
        assert not save.done()  # the reads did not wait for it
    await save
    assert_same_game(await opened.game(table.game.id), table.game)


async def test_close_waits_for_the_saves_asked_for_and_commits_them(
    opened: SQLiteStorage, tmp_path: Path
) -> None:
    tables = await against_the_computer(opened, 5)
    with locked(tmp_path / "hub.db"):
        saves = [asyncio.create_task(t.move(t.game.players[0], "Paper")) for t in tables]
        await taken()
        closing = asyncio.create_task(opened.close())
        await taken()
        assert not closing.done()
        with pytest.raises(StorageError, match="closed"):
            await opened.player("p000")
    await closing
    assert await asyncio.gather(*saves) == [None] * 5
    again = await SQLiteStorage.open(str(tmp_path / "hub.db"))
    try:
        for t in tables:
            assert_same_game(await again.game(t.game.id), t.game)
    finally:
        await again.close()


async def test_close_with_the_file_locked_for_good_fails_the_saves_and_returns(
    opened: SQLiteStorage, tmp_path: Path
) -> None:
    tables = await against_the_computer(opened, 3)
    before = [await opened.game(t.game.id) for t in tables]
    with locked(tmp_path / "hub.db"):
        saves = [asyncio.create_task(t.move(t.game.players[0], "Rock")) for t in tables]
        await taken()
        async with asyncio.timeout(60):  # a guard: the busy timeout ends the wait
            await opened.close()
        results = await asyncio.gather(*saves, return_exceptions=True)
    assert all(isinstance(r, StorageError) and "locked" in str(r) for r in results), results
    again = await SQLiteStorage.open(str(tmp_path / "hub.db"))
    try:
        assert [await again.game(t.game.id) for t in tables] == before
    finally:
        await again.close()


async def test_a_cancelled_caller_leaves_its_save_whole_and_the_batch_goes_on(
    opened: SQLiteStorage, tmp_path: Path
) -> None:
    a, b, c = await against_the_computer(opened, 3)
    before_b = await opened.game(b.game.id)

    def save(t: Table) -> asyncio.Task[None]:
        return asyncio.create_task(t.move(t.game.players[0], "Scissors"))

    with locked(tmp_path / "hub.db"):
        first = save(a)
        await on_the_thread(opened)  # the writer has taken a's save: it waits for the file
        queued, last = save(b), save(c)
        await taken()
        queued.cancel()  # not taken yet: it is dropped
        with pytest.raises(asyncio.CancelledError):
            await queued
        first.cancel()  # taken: its caller waits until it is settled
        await taken()
        assert not first.done()
    with pytest.raises(asyncio.CancelledError):
        await first
    await last
    assert_same_game(await opened.game(a.game.id), a.game)
    assert await opened.game(b.game.id) == before_b
    assert_same_game(await opened.game(c.game.id), c.game)


async def test_the_wal_is_checkpointed_beside_the_writer_every_so_many_saves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.sqlite, "CHECKPOINT_SAVES", 5)
    path = tmp_path / "hub.db"
    opened = await SQLiteStorage.open(str(path))
    try:
        await against_the_computer(opened, 6)

        # The games of the batches that made the count reach 5: 5 or 6 of them (the writer's
        # thread takes what is queued when it takes a batch, so the 6 may be split 5 + 1).
        async def in_the_file() -> bool:  # the database file itself, without its WAL
            db = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
            try:
                return bool(db.execute("SELECT count(*) FROM games").fetchone()[0] >= 5)
            # Not even the tables there yet, or pages read as the checkpoint writes them (an
            # immutable reader takes no lock): look again.
            except sqlite3.DatabaseError:
                return False
            finally:
                db.close()

        # The writer alone would not checkpoint before FALLBACK_CHECKPOINT pages.
        await eventually(in_the_file)
    finally:
        await opened.close()


def rounds_committed(path: Path, *game_ids: str) -> int:
    """Blocking the event loop for up to 5 s: how many of the games' rounds another connection
    finds committed, once as many as games are (or the time is up)."""
    reader = sqlite3.connect(path)
    try:
        deadline, rows = time.monotonic() + 5, 0
        while rows < len(game_ids) and time.monotonic() < deadline:
            time.sleep(0.01)
            marks = ", ".join("?" * len(game_ids))
            query = f"SELECT COUNT(*) FROM rounds WHERE game_id IN ({marks})"
            rows = reader.execute(query, game_ids).fetchone()[0]
        return int(rows)
    finally:
        reader.close()


async def test_saves_asked_for_during_a_batch_are_committed_without_the_event_loop(
    opened: SQLiteStorage, tmp_path: Path
) -> None:
    """Group commit's next batch starts on the writer's thread as soon as one is committed: the
    event loop need not run in between (a hand-over costs the loop's turn, ms on a busy hub)."""
    first, second = await against_the_computer(opened, 2)
    path = tmp_path / "hub.db"
    with locked(path) as other:
        a = asyncio.create_task(first.move("p000", "Rock"))
        await on_the_thread(opened)  # waiting for the file
        b = asyncio.create_task(second.move("p001", "Rock"))
        await taken()  # queued behind it
        other.execute("ROLLBACK")
        # The loop does not run until both are found committed (or 5 s pass).
        rows = rounds_committed(path, first.game.id, second.game.id)
        other.execute("BEGIN IMMEDIATE")  # the lock the block lets go of at its end
    assert rows == 2
    await asyncio.gather(a, b)
    assert_same_game(await opened.game(second.game.id), second.game)


async def test_in_memory_a_read_waits_for_one_batch_not_for_every_save_that_keeps_coming() -> None:
    """In memory, reads take turns with the writes on the one connection: the writer's thread
    stores one batch a turn there, so saves that keep coming never hold a read up."""
    opened = await SQLiteStorage.open(MEMORY)
    try:
        [table] = await against_the_computer(opened, 1)
        save = Save(False, table.game.id, sql.save_row(table.game, [], create=False, expected=None),
                    [], [], [])  # fmt: skip
        backend = opened._backend
        taken: list[int] = []
        read_after: list[int] = []

        def take() -> tuple[int, list[Save]] | None:  # saves that keep coming, 200 batches
            if len(taken) == 200:
                return None
            taken.append(len(taken))
            return len(taken), [save]

        async def read() -> None:
            await opened.game(table.game.id)
            read_after.append(len(taken))

        batches = asyncio.create_task(backend.store_batches(take, lambda token, outcomes: None))
        await taken_first(taken)
        await read()
        await batches
        assert read_after[0] < 200
    finally:
        await opened.close()


async def taken_first(taken: list[int]) -> None:
    async def begun() -> bool:
        return bool(taken)

    await eventually(begun)
