"""The SQLite backend: one writer connection and a small pool of readers, on a WAL file.

Theory of operation
-------------------
Each connection is an ``aiosqlite`` connection (``sqlite3`` on a thread of its own), handed whole
functions (``storage.sqlite_thread``).  The writer stores a batch of saves in one transaction in
one trip to its thread, however many saves it holds (``storage.sqlite_batch``), and goes on to
the next batch there at once (``store_batches``): saves that arrived meanwhile do not wait for
the event loop to hand them over, and each batch's callers are answered on the loop as the next
one is stored.  ``synchronous=NORMAL`` in WAL mode loses nothing committed when the process dies
(it can lose the last commits on power loss, which we accept).

The WAL is checkpointed (copied into the database file) beside the writer, on a connection of
its own, every ``CHECKPOINT_SAVES`` saves: the writer's commits never wait for it, and a page that
many commits changed is copied once; the writer checkpoints itself only should the WAL reach
``FALLBACK_CHECKPOINT`` pages.

Reads run on ``READERS`` connections of their own, ``query_only``: WAL lets them read while the
writer writes, so no read waits for a write, and each read is one transaction, so its queries see
one snapshot.  An in-memory database has no file to share, so there the reads run on the writer
connection, in turn with the writes.

A game is one ``games`` row holding everything a restart needs to resume it exactly (the open
round's pending moves and the computer's secret), plus its resolved ``rounds`` and the events of its
topic in ``game_events``, whose ``seq`` rises by exactly 1 (a compare-and-set on ``games.seq``
and ``storage.writer``'s check), so a replay after a restart can never show a gap.  The schema
version is ``PRAGMA user_version``: the number of ``MIGRATIONS`` applied.  Times are unix ms.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from storage import sql
from storage.base import StorageError
from storage.engine import K, Save, Session
from storage.open import MEMORY
from storage.sqlite_batch import store_batch
from storage.sqlite_schema import MIGRATIONS
from storage.sqlite_thread import Connection
from storage.store import SQLStore

__all__ = ["BUSY_TIMEOUT_MS", "MIGRATIONS", "READERS", "SQLiteStorage"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
READERS = 2
CHECKPOINT_SAVES = 2000  # about 3,000 WAL pages at ~1.5 pages a save (migration 8)
FALLBACK_CHECKPOINT = 10_000  # pages (SQLite's default, 1,000, would checkpoint on the writer)

T = TypeVar("T")


class Dialect:
    """SQLite's spellings: ``?`` as it is; the name columns are ``COLLATE NOCASE``."""

    def fold(self, expr: str) -> str:
        """``expr`` itself: the columns compare ignoring case, and so does a ``?`` beside one."""
        return expr

    def in_texts(self, column: str) -> str:
        """``column`` in a JSON array."""
        return f"{column} IN (SELECT value FROM json_each(?))"

    def texts(self, values: list[str]) -> Any:
        """The JSON array of ``values``."""
        return sql.json_list(values)


class _Session:
    """The transaction of one unit of work on a connection, begun by its first query."""

    def __init__(self, db: Connection, begin: str) -> None:
        self._db = db
        self._begin = begin
        self.begun = False

    async def fetch(self, query: str, *args: Any) -> list[sql.Row]:
        """Every row of ``query``."""
        if self.begun:
            return list(await self._db.fetchall(query, args))
        self.begun = True  # before: a BEGIN that worked is rolled back whatever follows
        begin = self._begin

        def first(db: sqlite3.Connection) -> list[sqlite3.Row]:
            db.execute(begin)
            return db.execute(query, args).fetchall()

        return list(await self._db.call(first))

    async def fetchrow(self, query: str, *args: Any) -> sql.Row | None:
        """The first row of ``query``, or None."""
        rows = await self.fetch(query, *args)
        return rows[0] if rows else None


class SQLiteBackend:
    """``storage.engine.Backend`` on a SQLite file."""

    dialect = Dialect()

    def __init__(
        self,
        writer: Connection,
        readers: list[Connection],
        path: str,
        checkpointer: Connection | None = None,
    ) -> None:
        """Use open, migrated connections; use ``open()`` instead."""
        self.where = path
        self._writer = writer
        self._checkpointer = checkpointer
        self._checkpoint: asyncio.Task[None] | None = None
        self._since = 0  # saves since the last checkpoint began
        self._all = [writer, *readers, *([checkpointer] if checkpointer else [])]
        self._readers: asyncio.Queue[Connection] = asyncio.Queue()
        for reader in readers:
            self._readers.put_nowait(reader)
        # Taken by the writer's work, and by reads only when they run on the writer (in memory).
        self._lock = asyncio.Lock()
        self._shared = not readers
        self._closed = False

    @classmethod
    async def open(cls, path: str) -> SQLiteBackend:
        """Open (or create) and migrate the database; ``StorageError`` when it cannot."""
        _check_path(path)
        opened: list[Connection] = []
        try:
            # busy_timeout first, so that switching to WAL waits for another process's lock.
            busy = f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"
            writer = await Connection.open(
                path,
                busy,
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = NORMAL",
                "PRAGMA foreign_keys = ON",
                f"PRAGMA wal_autocheckpoint = {FALLBACK_CHECKPOINT}",
                # What a statement keeps aside while it runs (its journal, to undo it alone; the
                # VALUES an update joins) in memory, not a temporary file: 1.2 KB written a move
                # at 1,000 players as it was, and 9 KB more with a batch's statements of many
                # rows (``storage.sqlite_batch``).  Bounded by a batch, on this connection only.
                "PRAGMA temp_store = MEMORY",
            )
            opened.append(writer)
            await writer.call(lambda db: _migrate(db, path))
            if path != MEMORY:
                for _ in range(READERS):
                    opened.append(await Connection.open(path, busy, "PRAGMA query_only = ON"))
                opened.append(await Connection.open(path, busy))  # the checkpointer
        except BaseException as exc:
            for db in opened:
                await db.close()
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"cannot open database {path}: {exc}") from exc
            raise
        if path == MEMORY:
            return cls(writer, [], path)
        return cls(writer, opened[1:-1], path, opened[-1])

    async def close(self) -> None:
        """Close every connection and its thread (after what was asked of each before)."""
        self._closed = True
        if self._checkpoint is not None:
            await self._checkpoint
        for db in self._all:
            await db.close()

    def _check_open(self) -> None:
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[Connection]:
        if self._shared:
            async with self._lock:
                yield self._writer
            return
        reader = await self._readers.get()
        try:
            yield reader
        finally:
            self._readers.put_nowait(reader)

    async def read(self, what: str, work: Callable[[Session], Awaitable[T]]) -> T:
        """``work`` in one read transaction on a free reader."""
        try:
            self._check_open()
            async with self._reader() as reader:
                session = _Session(reader, "BEGIN")
                try:
                    return await work(session)
                finally:
                    if session.begun:
                        # Before the reader goes back to the pool; a no-op outside a transaction.
                        await reader.call(_rollback)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot {what}: {exc}") from exc

    async def write(self, what: str, work: Callable[[Session], Awaitable[T]]) -> T:
        """``work`` in one ``BEGIN IMMEDIATE`` transaction on the writer, then ``COMMIT``."""
        try:
            self._check_open()
            async with self._lock:
                session = _Session(self._writer, "BEGIN IMMEDIATE")
                try:
                    result = await work(session)
                    await self._writer.call(_commit)
                except BaseException:
                    await self._writer.call(_rollback)
                    raise
                return result
        except sqlite3.Error as exc:
            raise StorageError(f"cannot {what}: {exc}") from exc

    async def store(self, saves: Sequence[Save]) -> list[BaseException | None]:
        """The batch in one transaction on the writer (see the module's docstring)."""
        try:
            self._check_open()
        except sqlite3.Error as exc:
            return [exc] * len(saves)
        async with self._lock:
            outcomes = await self._writer.call(lambda db: store_batch(db, saves))
        self._stored(len(saves))
        return outcomes

    async def store_batches(
        self,
        take: Callable[[], tuple[K, Sequence[Save]] | None],
        settle: Callable[[K, list[BaseException | None]], None],
    ) -> None:
        """Batch after batch on the writer's thread: it takes the next batch as soon as one is
        committed, and hands each batch's outcomes to the event loop without waiting for it.
        In memory, where reads take turns with the writes on the one connection, one batch a
        turn, so that saves that keep coming never hold a read up."""
        loop = asyncio.get_running_loop()

        def settled(token: K, outcomes: list[BaseException | None]) -> None:
            self._stored(len(outcomes))
            settle(token, outcomes)

        def work(db: sqlite3.Connection) -> None:
            while (taken := take()) is not None:
                token, saves = taken
                try:
                    self._check_open()
                    outcomes = store_batch(db, saves)
                except Exception as exc:  # not the saves' own trouble: every one fails with it
                    outcomes = [exc] * len(saves)
                loop.call_soon_threadsafe(settled, token, outcomes)
                if self._shared:
                    return

        async with self._lock:
            await self._writer.call(work)

    def _stored(self, saves: int) -> None:
        """``saves`` more were stored: the WAL is checkpointed every ``CHECKPOINT_SAVES``."""
        self._since += saves
        idle = self._checkpoint is None or self._checkpoint.done()
        if self._since >= CHECKPOINT_SAVES and self._checkpointer is not None and idle:
            self._since = 0
            self._checkpoint = asyncio.create_task(self._checkpoint_wal(self._checkpointer))

    async def _checkpoint_wal(self, checkpointer: Connection) -> None:
        """Copy what the WAL holds into the database file, as far as no reader needs it kept
        (PASSIVE: it waits for nobody, and nobody waits for it)."""
        try:
            await checkpointer.call(lambda db: db.execute("PRAGMA wal_checkpoint(PASSIVE)"))
        except sqlite3.Error as exc:  # the writer's own checkpoints are the fallback
            log.warning("checkpoint of %s failed: %s", self.where, exc)


def _commit(db: sqlite3.Connection) -> None:
    db.commit()


def _rollback(db: sqlite3.Connection) -> None:
    db.rollback()  # a no-op outside a transaction


class SQLiteStorage(SQLStore):
    """``storage.base.Storage`` on a SQLite file; make one with ``await SQLiteStorage.open()``."""

    @classmethod
    async def open(cls, path: str) -> SQLiteStorage:
        """Open (or create) and migrate the database file; ``StorageError`` when it cannot."""
        return cls(await SQLiteBackend.open(path))


# -- opening and migrating ------------------------------------------------------------------


def _check_path(path: str) -> None:
    """Turn the usual path mistakes into one clear line before SQLite says 'unable to open'."""
    if path == MEMORY or path.startswith("file:"):
        return
    target = Path(path)
    if target.is_dir():
        raise StorageError(f"cannot open database {path}: it is a directory; name a file in it")
    parent = target.parent
    if not parent.is_dir():
        raise StorageError(
            f"cannot open database {path}: directory {parent} does not exist; create it first"
        )


def _migrate(db: sqlite3.Connection, path: str) -> None:
    """Bring the schema up to ``len(MIGRATIONS)``, each migration in its own transaction (on
    the writer's thread)."""
    row = db.execute("PRAGMA user_version").fetchone()
    version = int(row[0]) if row is not None else 0
    if version > len(MIGRATIONS):
        raise StorageError(
            f"cannot open database {path}: its schema version {version} is newer than this"
            f" rps-hub knows ({len(MIGRATIONS)}); upgrade rps-hub"
        )
    for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                db.execute(statement)
            # user_version lives in the file header, so it commits or rolls back with the rest.
            db.execute(f"PRAGMA user_version = {number}")
            db.commit()
        except BaseException:
            db.rollback()
            raise
