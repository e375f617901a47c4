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

Writes come from the store's single writer.  A batch of saves is one transaction of three round
trips however many saves it holds: ``BEGIN``, one statement whose parts insert the new games,
update the saved ones (``UPDATE … FROM json_populate_recordset(…) RETURNING id``), insert their
new rounds (skipping those already stored) and their events, each from one JSON array parameter,
and ``COMMIT``.  A save of a game that was never created updates no row, which the statement's
answer shows, and the batch rolls back.  When a batch fails for a save's own reason (that, or an
integrity error), each of its saves runs again alone, so only the bad one fails; when the
database is the trouble (unreachable, too slow), the whole batch fails.  Batches run on a
connection kept for them (a new one from the pool when it is lost).  Writes run at READ
COMMITTED; updating a game's row holds its lock until commit, so saves of one game are serialized
across every process sharing the database.  As in SQLite, a trigger makes each topic's ``seq``
rise by exactly 1; a duplicate or a gap raises and the save rolls back.

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
from typing import Any, TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from storage import sql
from storage.base import StaleRating, StorageError
from storage.engine import NeverCreated, Save, Session
from storage.open import COMMAND_TIMEOUT, SCHEMA_NAME, command_timeout, postgres_dsn, redacted
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

_COLUMNS = [*sql.GAME_FIELDS, "seq"]
_ROUND_COLUMNS = ["game_id", "round", "move_a", "move_b", "winner", "commitment", "nonce"]
_EVENT_COLUMNS = ["game_id", "seq", "ts", "event", "data"]
# $1: the new games, $2: the saved games (a null seq keeps the stored one), $3: their rounds,
# $4: their events, each a JSON array of rows by column.  The rounds and events are only those of
# games the statement inserted or updated, so a game that was never created shows as one update
# short instead of a foreign key error.
_BATCH = f"""WITH created AS (
        INSERT INTO games ({", ".join(_COLUMNS)})
        SELECT {", ".join(_COLUMNS)} FROM json_populate_recordset(NULL::games, $1::json)
        RETURNING id
    ), updated AS (
        UPDATE games AS g
        SET {", ".join(f"{c} = v.{c}" for c in sql.GAME_FIELDS if c != "id")},
            seq = COALESCE(v.seq, g.seq)
        FROM json_populate_recordset(NULL::games, $2::json) AS v
        WHERE g.id = v.id
        RETURNING g.id
    ), saved AS (
        SELECT id FROM created UNION ALL SELECT id FROM updated
    ), new_rounds AS (
        INSERT INTO rounds ({", ".join(_ROUND_COLUMNS)})
        SELECT {", ".join(f"r.{c}" for c in _ROUND_COLUMNS)}
        FROM json_populate_recordset(NULL::rounds, $3::json) AS r
        WHERE r.game_id IN (SELECT id FROM saved)
        ON CONFLICT (game_id, round) DO NOTHING
        RETURNING 1
    ), new_events AS (
        INSERT INTO game_events ({", ".join(_EVENT_COLUMNS)})
        SELECT {", ".join(f"e.{c}" for c in _EVENT_COLUMNS)}
        FROM json_populate_recordset(NULL::game_events, $4::json) WITH ORDINALITY AS e
        WHERE e.game_id IN (SELECT id FROM saved)
        ORDER BY e.ordinality
        RETURNING 1
    )
    SELECT (SELECT COUNT(*) FROM updated) AS updated,
           (SELECT COUNT(*) FROM new_rounds) AS rounds,
           (SELECT COUNT(*) FROM new_events) AS events"""

_RATING_COLUMNS = ["name_key", "rating", "deviation", "volatility", "rated", "game_id", "ts"]
# A rated game's new ratings (storage.sql.rating_rows), one JSON array: each player's is only
# changed over the count of rated games it was read at (one row of a player per statement, so a
# second row of the same player is refused too), then the history rows; the answer is how many
# ratings changed.
_RATINGS = """WITH v AS (
        SELECT * FROM json_to_recordset($1::json) AS r(
            name_key text, rating float8, deviation float8, volatility float8, rated integer,
            game_id text, ts bigint)
    ), changed AS (
        UPDATE players AS p
        SET rating = v.rating, deviation = v.deviation, volatility = v.volatility,
            rated = p.rated + 1
        FROM v
        WHERE p.name_key = v.name_key AND p.rated = v.rated
        RETURNING p.id, v.game_id, v.ts, v.rating, v.deviation, v.volatility
    ), history AS (
        INSERT INTO rating_history (player_id, game_id, ts, rating, deviation, volatility)
        SELECT id, game_id, ts, rating, deviation, volatility FROM changed
        RETURNING 1
    )
    SELECT COUNT(*) AS changed FROM history"""

Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
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
        settings = {"application_name": "rps-hub"}
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
        """The batch in one transaction of three round trips (see the module's docstring)."""
        try:
            db = await self._batch_connection()
            try:
                await self._apply(db, saves)
                return [None] * len(saves)
            except _TROUBLE:
                await self._drop_batch_connection()
                raise
            except (asyncpg.PostgresError, NeverCreated, StaleRating) as exc:
                if len(saves) == 1:
                    return [self._error(saves[0], exc)]
            outcomes: list[BaseException | None] = []
            for n, save in enumerate(saves):
                try:
                    await self._apply(db, [save])
                    outcomes.append(None)
                except _TROUBLE as exc:  # those already stored alone stay stored
                    await self._drop_batch_connection()
                    return outcomes + [self._error(s, exc) for s in saves[n:]]
                except (asyncpg.PostgresError, NeverCreated, StaleRating) as exc:
                    outcomes.append(self._error(save, exc))
            return outcomes
        except _DATABASE_ERRORS as exc:
            return [self._error(saves[0], exc, len(saves))] * len(saves)

    async def _batch_connection(self) -> Connection:
        """The connection batches run on, kept out of the pool between them (so no reset runs
        after each batch); a new one when it was lost."""
        if self._batches is None:
            self._batches = await self._pool.acquire()
        return self._batches

    async def _drop_batch_connection(self) -> None:
        """Give the batch connection back to the pool, which replaces it if it is broken."""
        db, self._batches = self._batches, None
        if db is not None:
            with contextlib.suppress(*_DATABASE_ERRORS):
                await self._pool.release(db)

    async def _apply(self, db: Connection, saves: Sequence[Save]) -> None:
        """Store ``saves`` in one transaction, or roll back and raise."""
        updates = sum(not s.create for s in saves)
        async with db.transaction(isolation="read_committed"):
            row = await db.fetchrow(
                _BATCH,
                _json([s.game for s in saves if s.create]),
                _json([s.game for s in saves if not s.create]),
                _json([dict(zip(_ROUND_COLUMNS, r, strict=True)) for s in saves for r in s.rounds]),
                _json([dict(zip(_EVENT_COLUMNS, e, strict=True)) for s in saves for e in s.events]),
            )
            assert row is not None
            if row["updated"] != updates:
                raise NeverCreated()
            ratings = [dict(zip(_RATING_COLUMNS, r, strict=True)) for s in saves for r in s.ratings]
            if ratings and await db.fetchval(_RATINGS, _json(ratings)) != len(ratings):
                raise StaleRating("a rating changed since it was read; rate the game again")

    def _error(self, save: Save, exc: BaseException, count: int = 1) -> BaseException:
        """What a save is told of ``exc`` (``count``: how many saves it failed)."""
        if isinstance(exc, NeverCreated | StaleRating):
            return exc
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


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, separators=(",", ":"))


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
