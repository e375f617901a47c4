"""A ``sqlite3`` connection on its own thread: whole functions in, their outcomes out, in order."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from storage.sqlite_thread import Connection


async def test_a_function_runs_on_the_connection_and_its_result_comes_back(tmp_path: Path) -> None:
    conn = await Connection.open(str(tmp_path / "t.db"))
    try:

        def work(db: sqlite3.Connection) -> int:
            db.execute("CREATE TABLE t (x INTEGER)")
            db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), (3,)])
            return int(db.execute("SELECT sum(x) FROM t").fetchone()[0])

        assert await conn.call(work) == 6
        rows = await conn.fetchall("SELECT x FROM t WHERE x > ? ORDER BY x", (1,))
        assert [row["x"] for row in rows] == [2, 3]
    finally:
        await conn.close()


async def test_a_failing_function_fails_its_caller_alone(tmp_path: Path) -> None:
    conn = await Connection.open(str(tmp_path / "t.db"))
    try:
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await conn.execute("SELECT * FROM missing")
        assert [tuple(row) for row in await conn.fetchall("SELECT 1")] == [(1,)]
    finally:
        await conn.close()


async def test_close_waits_for_what_was_asked_before_it(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = await Connection.open(str(path), "PRAGMA journal_mode = WAL")
    await conn.execute("CREATE TABLE t (x INTEGER)")
    writes = [
        asyncio.ensure_future(conn.execute("INSERT INTO t VALUES (?)", (i,))) for i in range(50)
    ]
    await asyncio.sleep(0)  # each write is queued
    await conn.close()
    assert all(w.done() and w.exception() is None for w in writes)
    other = sqlite3.connect(path)
    try:
        assert other.execute("SELECT count(*) FROM t").fetchone() == (50,)
    finally:
        other.close()


async def test_a_closed_connection_refuses_work(tmp_path: Path) -> None:
    conn = await Connection.open(str(tmp_path / "t.db"))
    await conn.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        await conn.execute("SELECT 1")


async def test_a_path_that_cannot_be_opened_fails_the_open(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        await Connection.open(str(tmp_path / "missing" / "t.db"))


async def test_a_failed_open_leaves_no_thread_behind(tmp_path: Path) -> None:
    """The connection's thread has ended when the open fails: it would otherwise hand its last
    outcome to an event loop that may be closed by then (an error in that thread)."""

    def connections() -> set[threading.Thread]:  # aiosqlite's threads (named after their target)
        return {t for t in threading.enumerate() if "_connection_worker_thread" in t.name}

    before = connections()
    for _ in range(20):
        with pytest.raises(sqlite3.OperationalError):
            await Connection.open(str(tmp_path / "missing" / "t.db"))
    assert connections() - before == set()


async def test_none_binds_as_null_through_the_adapter_registered_for_it(tmp_path: Path) -> None:
    """None is bound as NULL by an adapter registered for its type, not by sqlite3's adaptation
    protocol (which makes and drops an AttributeError for every None it binds)."""
    assert (type(None), sqlite3.PrepareProtocol) in sqlite3.adapters
    conn = await Connection.open(str(tmp_path / "t.db"))
    try:
        await conn.execute("CREATE TABLE t (x INTEGER, y TEXT)")
        await conn.execute("INSERT INTO t VALUES (?, ?)", (None, None))
        rows = await conn.fetchall("SELECT typeof(x) AS x, typeof(y) AS y, ? IS NULL AS n FROM t",
                                   (None,))  # fmt: skip
        assert [(row["x"], row["y"], row["n"]) for row in rows] == [("null", "null", 1)]
    finally:
        await conn.close()
