"""An ``aiosqlite`` connection that the event loop hands whole functions, not single statements.

``sqlite3`` blocks, so aiosqlite keeps each connection on a thread of its own and sends it work
through a queue, handing each outcome back with ``call_soon_threadsafe``.  Its public methods send
one statement per trip; but the queue takes any function (``aiosqlite.Connection._execute``, the
primitive every one of its methods is built on).  Here an item is any function of the
``sqlite3`` connection: a batch of saves (``BEGIN``, a statement per table, ``COMMIT``) is one
item, so it costs one trip to the thread and back however many statements it runs, and the loop
is not needed between them (with one trip per statement, each waited behind everything else the
loop had to do).  aiosqlite stays the one place where threads meet SQLite.

A caller that is cancelled does not stop its item (SQLite cannot be interrupted halfway through
a function of ours); the item's outcome is dropped.  ``close`` runs after every item queued before
it, closes the connection and ends the thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiosqlite

__all__ = ["Connection"]

T = TypeVar("T")


def _null(value: None) -> None:
    """How ``None`` is bound: as itself, a NULL (see below)."""
    return value


# ``sqlite3`` binds an int, float, str or bytes parameter as it is, and sends any other, None
# among them, through its adaptation protocol first: with no adapter registered for its type,
# that looks for ``__adapt__`` and ``__conform__`` and makes (and drops) an AttributeError with
# a formatted message, ~1,200 instructions for every None bound (a move binds about six, on
# the writer's thread with the GIL held).  An adapter handing None back binds the same NULL in a
# lookup and a call.  Registered for the whole process, as ``sqlite3``'s adapters are.
sqlite3.register_adapter(type(None), _null)


class Connection:
    """One ``sqlite3`` connection (autocommit mode, rows by name) on aiosqlite's thread."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        """Wrap a connected ``aiosqlite`` connection; ``open()`` makes one."""
        self._db = db
        self._closed = False

    @classmethod
    async def open(cls, path: str, *pragmas: str) -> Connection:
        """Connect to ``path`` on a new thread and run ``pragmas``."""
        pending = aiosqlite.connect(path, isolation_level=None)
        try:
            db = await pending
        except BaseException:
            # aiosqlite has told its thread to stop, and the thread answers that on this loop:
            # wait for it here, so it never answers a loop that was closed meanwhile.
            thread: threading.Thread = pending._thread
            await asyncio.to_thread(thread.join)
            raise
        db.row_factory = sqlite3.Row
        conn = cls(db)
        try:
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
        db = self._db
        # aiosqlite's queue of functions for the connection's thread (untyped there).
        on_thread: Callable[..., Awaitable[T]] = db._execute
        return await on_thread(_run, work, db)

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
        await self._db.close()


def _run(work: Callable[[sqlite3.Connection], T], db: aiosqlite.Connection) -> T:
    """On the connection's thread: ``work`` with the ``sqlite3`` connection itself."""
    return work(db._conn)
