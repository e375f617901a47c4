"""The PostgreSQL backend: a small asyncpg pool, the same tables and answers as SQLite.

Theory of operation
-------------------
Reads borrow a pooled connection and run at REPEATABLE READ, READ ONLY, so a game and its rounds
come from one snapshot, and no read waits for a write.  A read runs as its own task.  When its
caller is cancelled (an ``asyncio.timeout`` around it, a closing connection), the task is
cancelled too: asyncpg asks the server to cancel the running statement, the transaction rolls
back and the connection goes back to the pool, and only then does the cancellation go on, so a
cancelled call ends at once yet never races the next one nor leaves a connection mid-statement.
A statement that runs longer than the command timeout (``COMMAND_TIMEOUT``, or
``?command_timeout=S``) is cancelled the same way and its unit fails as ``unavailable``.

Writes come from the store's single writer.  A batch of saves is one statement, one round trip,
however many saves it holds (two in a transaction when a rated game ends in it:
``storage.postgres_batch``): its updates are compare-and-set on each game's ``seq``, and a save
that lost that race fails alone (``StaleGame``) while the rest commit.  When a batch fails for a
save's own reason (a game never created, an integrity error, a seat already taken, a stale rating),
each of its saves runs again alone, so only the bad one fails; when the database is the trouble
(unreachable, too slow), the whole batch fails.  Batches run on a connection kept for them (a new
one from the pool when it is lost).  Writes run at READ COMMITTED; updating a game's row holds its
lock until commit, so saves of one game are serialized across every process sharing the
database.  Each topic's ``seq`` rises by exactly 1: a save's first event must follow the stored
``seq`` (the compare-and-set) and the writer refuses events that do not follow one another
(``storage.writer``).

The schema version is the highest row of ``schema_migrations``; migrations run in one transaction
under an advisory lock, so hubs starting at once apply them exactly once.  The data lives in the
connection's default schema (normally ``public``), or in the schema that a ``?schema=NAME`` query
parameter of the URL names (created when missing): tests give each test its own.  Times are unix
milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg

from storage import sql
from storage.base import SeatTaken, StaleRating, StorageError
from storage.engine import K, NeverCreated, Save, Session, batches_on_loop
from storage.open import COMMAND_TIMEOUT, SCHEMA_NAME, command_timeout, postgres_dsn, redacted
from storage.postgres_batch import SETTINGS, Connection, apply
from storage.postgres_schema import MIGRATIONS, NOW_MS
from storage.store import SQLStore

__all__ = ["COMMAND_TIMEOUT", "MIGRATIONS", "POOL_SIZE", "PostgresStorage"]

POOL_SIZE = 4
CONNECT_TIMEOUT = 10.0

# What a failing connection or statement raises; each becomes a StorageError of one line.
_DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
# What fails a whole batch, not one save of it: the database, not the data, is the trouble.
_TROUBLE = (
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.QueryCanceledError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
)

T = TypeVar("T")


class Dialect:
    """PostgreSQL's spellings: ``$n`` placeholders, ``lower()`` for names, text arrays."""

    def fold(self, expr: str) -> str:
        """``lower(expr)``, which the seat and winner indexes serve."""
        return f"lower({expr})"

    def in_texts(self, column: str) -> str:
        """``column`` in a text array."""
        return f"{column} = ANY(?::text[])"

    def texts(self, values: list[str]) -> Any:
        """``values`` as they are (asyncpg sends a list as an array)."""
        return values


@functools.lru_cache(maxsize=256)
def numbered(query: str) -> str:
    """``query`` with its ``?`` placeholders numbered ``$1``, ``$2``, … (none is in a literal)."""
    parts = query.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


class _Session:
    """A transaction on a pooled connection."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    async def fetch(self, query: str, *args: Any) -> list[sql.Row]:
        """Every row of ``query``."""
        return list(await self._db.fetch(numbered(query), *args))

    async def fetchrow(self, query: str, *args: Any) -> sql.Row | None:
        """The first row of ``query``, or None."""
        return await self._db.fetchrow(numbered(query), *args)


async def _whole(work: Awaitable[T]) -> T:
    """Run ``work`` as a task that is cancelled with its caller and has rolled back and released
    its connection before the caller's cancellation goes on."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.cancel()
        # Cleanup is a rollback on a connection whose statement the server is cancelling:
        # quick, and waited for so that the next call finds the connection back in the pool.
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the caller is told of the cancellation instead
        raise


class PostgresBackend:
    """``storage.engine.Backend`` on a PostgreSQL database."""

    dialect = Dialect()

    def __init__(
        self, pool: asyncpg.Pool[asyncpg.Record], where: str, timeout: float = COMMAND_TIMEOUT
    ) -> None:
        """Use an open pool on a migrated schema; use ``open()`` instead."""
        self.where = where
        self._pool = pool
        self._batches: Connection | None = None
        self._timeout = timeout  # the pool's command timeout, for messages

    @classmethod
    async def open(cls, url: str, *, schema: str | None = None) -> PostgresBackend:
        """Connect and migrate (see ``PostgresStorage.open``)."""
        dsn, url_schema = postgres_dsn(url)
        timeout = command_timeout(url)
        if schema is not None and not SCHEMA_NAME.fullmatch(schema):
            raise StorageError(f"schema {schema!r} must be letters, digits and _")
        schema = schema or url_schema
        where = redacted(url)
        # A batch is one statement outside any transaction of ours (storage.postgres_batch): it
        # runs at the session's default isolation, which is READ COMMITTED whatever the server's.
        settings = {
            "application_name": "rps-hub",
            "default_transaction_isolation": "read committed",
        }
        if schema is not None:
            settings["search_path"] = _quoted(schema)
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=POOL_SIZE,
                timeout=CONNECT_TIMEOUT,
                command_timeout=timeout,
                server_settings=settings,
            )
        except (*_DATABASE_ERRORS, ValueError) as exc:
            raise StorageError(f"cannot open database {where}: {_reason(exc)}") from exc
        try:
            await _migrate(pool, schema, where)
        except BaseException as exc:
            pool.terminate()
            if isinstance(exc, _DATABASE_ERRORS):
                raise StorageError(
                    f"cannot open database {where}: {_reason(exc, timeout)}"
                ) from exc
            raise
        return cls(pool, where, timeout)

    async def close(self) -> None:
        """Close the pool once every connection is back (the batches' one included)."""
        await self._drop_batch_connection()
        await self._pool.close()

    async def read(self, what: str, work: Callable[[Session], Awaitable[T]]) -> T:
        """``work`` in one REPEATABLE READ, READ ONLY transaction on a pooled connection."""
        return await _whole(self._unit(what, work, write=False))

    async def write(self, what: str, work: Callable[[Session], Awaitable[T]]) -> T:
        """``work`` in one READ COMMITTED transaction on a pooled connection."""
        return await _whole(self._unit(what, work, write=True))

    async def _unit(self, what: str, work: Callable[[Session], Awaitable[T]], *, write: bool) -> T:
        try:
            async with (
                self._pool.acquire() as db,
                db.transaction(
                    isolation="read_committed" if write else "repeatable_read", readonly=not write
                ),
            ):
                return await work(_Session(db))
        except _DATABASE_ERRORS as exc:
            raise StorageError(f"cannot {what}: {_reason(exc, self._timeout)}") from exc

    async def store(self, saves: Sequence[Save]) -> list[BaseException | None]:
        """The batch in one statement, one round trip (``storage.postgres_batch``)."""
        try:
            db = await self._batch_connection()
            try:
                return await apply(db, saves)
            except _TROUBLE:
                await self._drop_batch_connection()
                raise
            except (asyncpg.PostgresError, NeverCreated, StaleRating) as exc:
                if len(saves) == 1:
                    return [self._error(saves[0], exc)]
            outcomes: list[BaseException | None] = []
            for n, save in enumerate(saves):
                try:
                    outcomes += await apply(db, [save])
                except _TROUBLE as exc:  # those already stored alone stay stored
                    await self._drop_batch_connection()
                    return outcomes + [self._error(s, exc) for s in saves[n:]]
                except (asyncpg.PostgresError, NeverCreated, StaleRating) as exc:
                    outcomes.append(self._error(save, exc))
            return outcomes
        except _DATABASE_ERRORS as exc:
            return [self._error(saves[0], exc, len(saves))] * len(saves)

    async def store_batches(
        self,
        take: Callable[[], tuple[K, Sequence[Save]] | None],
        settle: Callable[[K, list[BaseException | None]], None],
    ) -> None:
        """Batch after batch, on the event loop (``storage.engine.batches_on_loop``)."""
        await batches_on_loop(self, take, settle)

    async def _batch_connection(self) -> Connection:
        """The connection batches run on, kept out of the pool between them (so no reset runs
        after each batch), with ``postgres_batch.SETTINGS``; a new one when it was lost (the
        pool's reset clears the settings of one given back)."""
        if self._batches is None:
            db = await self._pool.acquire()
            try:
                await db.execute(SETTINGS)
            except BaseException:
                with contextlib.suppress(*_DATABASE_ERRORS):
                    await self._pool.release(db)
                raise
            self._batches = db
        return self._batches

    async def _drop_batch_connection(self) -> None:
        """Give the batch connection back to the pool, which replaces it if it is broken."""
        db, self._batches = self._batches, None
        if db is not None:
            with contextlib.suppress(*_DATABASE_ERRORS):
                await self._pool.release(db)

    def _error(self, save: Save, exc: BaseException, count: int = 1) -> BaseException:
        """What a save is told of ``exc`` (``count``: how many saves it failed)."""
        if isinstance(exc, NeverCreated | StaleRating):
            return exc
        if (
            isinstance(exc, asyncpg.UniqueViolationError)
            and exc.constraint_name == "live_seats_pkey"
            and exc.detail
        ):
            held = json.loads(exc.detail)  # from the trigger live_seats_take (migration 6)
            return SeatTaken(held["player"], held["game"])
        what = save.what if count == 1 else f"save {count} games"
        return StorageError(f"cannot {what}: {_reason(exc, self._timeout)}")


class PostgresStorage(SQLStore):
    """``storage.base.Storage`` on PostgreSQL; make one with ``await PostgresStorage.open()``."""

    @classmethod
    async def open(cls, url: str, *, schema: str | None = None) -> PostgresStorage:
        """Connect and migrate; ``schema`` (or ``?schema=`` in the URL) picks the schema to use.

        Raises ``StorageError`` with one line when the server cannot be reached, the database
        does not exist or the login is refused.
        """
        return cls(await PostgresBackend.open(url, schema=schema))


# -- opening and migrating ------------------------------------------------------------------


async def _migrate(pool: asyncpg.Pool[asyncpg.Record], schema: str | None, where: str) -> None:
    """Create the schema if it is missing and bring it up to ``len(MIGRATIONS)``, atomically."""
    async with pool.acquire() as db, db.transaction():
        # Held until commit: a second hub starting now waits here, then finds nothing to do.
        await db.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(schema))
        if schema is not None and not await db.fetchval(
            "SELECT 1 FROM pg_namespace WHERE nspname = $1", schema
        ):
            await db.execute(f"CREATE SCHEMA {_quoted(schema)}")
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)"
        )
        version = await db.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        if version > len(MIGRATIONS):
            raise StorageError(
                f"cannot open database {where}: its schema version {version} is newer than this"
                f" rps-hub knows ({len(MIGRATIONS)}); upgrade rps-hub"
            )
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in statements:
                await db.execute(statement)
            await db.execute(
                f"INSERT INTO schema_migrations (version, applied) VALUES ($1, {NOW_MS})", number
            )


def _lock_key(schema: str | None) -> int:
    """The advisory lock (a signed 64-bit key) that guards migrating this schema."""
    digest = hashlib.sha256(f"rps-hub migrations {schema or ''}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _quoted(identifier: str) -> str:
    """An identifier quoted for SQL (the names we accept hold no quotes)."""
    return '"' + identifier.replace('"', '""') + '"'


def _reason(exc: BaseException, timeout: float = CONNECT_TIMEOUT) -> str:
    """What went wrong, on one line (``timeout``: the seconds a TimeoutError waited)."""
    if isinstance(exc, TimeoutError):
        return f"no answer from the server within {timeout:g} s"
    if isinstance(exc, OSError) and not isinstance(exc, asyncpg.PostgresError):
        text = exc.strerror or str(exc)
        return f"cannot reach the server: {' '.join(text.split())}"
    return " ".join(str(exc).split()) or type(exc).__name__
