"""A ``sqlite3`` connection on a thread of its own, which the event loop hands whole functions.

``sqlite3`` blocks, so each connection lives on a thread and the event loop sends it work through
a queue; the thread runs each item in turn and hands the outcome back with
``call_soon_threadsafe``.  An item is any function of the connection, not only one statement: a
batch of saves (``BEGIN``, a statement per table, ``COMMIT``) is one item, so it costs one trip
to the thread and back however many statements it runs, and the loop is not needed between them
(with one trip per statement, each waited behind everything else the loop had to do).

A caller that is cancelled does not stop its item (SQLite cannot be interrupted halfway through
a function of ours); the item's outcome is dropped.  ``close`` runs after every item queued before
it, closes the connection and ends the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

__all__ = ["Connection"]

T = TypeVar("T")

_Item = tuple[asyncio.Future[Any], Callable[[sqlite3.Connection], Any]] | None


class Connection:
    """One ``sqlite3`` connection (autocommit mode, rows by name) and the thread it runs on."""

    def __init__(self, path: str) -> None:
        """Start the thread; ``open()`` does, and connects."""
        self._path = path
        self._queue: SimpleQueue[_Item] = SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="sqlite", daemon=True)
        self._thread.start()

    @classmethod
    async def open(cls, path: str, *pragmas: str) -> Connection:
        """Connect to ``path`` on a new thread and run ``pragmas``."""
        conn = cls(path)
        try:
            await conn.call(lambda db: None)  # connected, or the error of connecting
            for pragma in pragmas:
                await conn.execute(pragma)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)`` on the connection's thread; its result or its exception."""
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put((future, work))
        return await future

    async def execute(self, query: str, args: tuple[Any, ...] = ()) -> None:
        """Run one statement."""
        await self.call(lambda db: db.execute(query, args))

    async def fetchall(self, query: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Every row of ``query``."""
        return await self.call(lambda db: db.execute(query, args).fetchall())

    async def close(self) -> None:
        """Close the connection once what was asked before is done, and end the thread."""
        if self._closed:
            return
        self._closed = True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put((future, _close))
        self._queue.put(None)
        await future

    def _serve(self) -> None:
        """The thread: connect, then run each item until ``None``."""
        db: sqlite3.Connection | None = None
        error: Exception | None = None
        try:
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
        except Exception as exc:  # told to the first caller (``open``)
            error = exc
        while (item := self._queue.get()) is not None:
            future, work = item
            try:
                if db is None:  # not connected: every item but the close fails as connecting did
                    if work is not _close:
                        assert error is not None
                        raise error
                    result = None
                else:
                    result = work(db)
            except BaseException as exc:
                _hand(future, _fail, exc)
            else:
                _hand(future, _settle, result)


def _hand(
    future: asyncio.Future[Any], settle: Callable[[asyncio.Future[Any], Any], None], outcome: Any
) -> None:
    """Settle ``future`` on its loop's thread (nobody is told when that loop is gone)."""
    with contextlib.suppress(RuntimeError):  # the loop is closed
        future.get_loop().call_soon_threadsafe(settle, future, outcome)


def _close(db: sqlite3.Connection) -> None:
    db.close()


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
