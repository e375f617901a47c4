"""The group commit of ``moves_reference.py``: its tables, and the batchers that store every
save waiting at the moment in one transaction, on SQLite (one writer thread) and on PostgreSQL
(one asyncpg connection)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sqlite3
from typing import Any

import asyncpg

SCHEMA = """
CREATE TABLE IF NOT EXISTS games (
    id TEXT PRIMARY KEY, player TEXT NOT NULL, best_of INTEGER NOT NULL,
    score_player INTEGER NOT NULL, score_computer INTEGER NOT NULL, round INTEGER NOT NULL,
    status TEXT NOT NULL, started INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rounds (
    game TEXT NOT NULL, round INTEGER NOT NULL, player_roll TEXT NOT NULL,
    computer_roll TEXT NOT NULL, nonce TEXT NOT NULL, winner TEXT,
    PRIMARY KEY (game, round)
);
CREATE TABLE IF NOT EXISTS events (
    game TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, names TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (game, seq)
);
"""

# A save is a list of statements by name, each with its parameters; the SQL per database.
Statement = tuple[str, tuple[Any, ...]]
SQLITE = {
    "game": "INSERT INTO games VALUES (?, ?, ?, 0, 0, 1, 'playing', ?)",
    "round": "INSERT INTO rounds VALUES (?, ?, ?, ?, ?, ?)",
    "score": "UPDATE games SET score_player = ?, score_computer = ?, round = ?, status = ? "
    "WHERE id = ?",
    "events": "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
}
POSTGRES = {
    "game": "INSERT INTO games VALUES ($1, $2, $3, 0, 0, 1, 'playing', $4)",
    "round": "INSERT INTO rounds VALUES ($1, $2, $3, $4, $5, $6)",
    "score": "UPDATE games SET score_player = $1, score_computer = $2, round = $3, status = $4 "
    "WHERE id = $5",
    "events": "INSERT INTO events VALUES ($1, $2, $3, $4, $5)",
}
# Each table's rows of a batch in one statement, from array parameters (a column each): what
# PostgreSQL does a row is then a row's work, not a statement's (``executemany`` runs the
# statement once a row; ``--lean`` still does).  The update names its ids as an array too, so
# the primary key answers it even in a plan made while ``games`` was small.
POSTGRES_ARRAYS = {
    "game": "INSERT INTO games SELECT v.id, v.player, v.best_of, 0, 0, 1, 'playing', v.started"
    " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])"
    " AS v(id, player, best_of, started)",
    "round": "INSERT INTO rounds SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[],"
    " $4::text[], $5::text[], $6::text[])",
    "score": "UPDATE games AS g SET score_player = v.a, score_computer = v.b, round = v.r,"
    " status = v.s FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])"
    " AS v(a, b, r, s, id) WHERE g.id = ANY($5::text[]) AND g.id = v.id",
    "events": "INSERT INTO events"
    " SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])",
}
PG_SCHEMA = SCHEMA.replace("INTEGER", "BIGINT")


class Batcher:
    """Group commit: whatever waits when the last batch is done is stored as the next batch
    (``_store``: one outcome a save, None when it is committed); nobody is answered before."""

    def __init__(self) -> None:
        self._waiting: list[tuple[list[Statement], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run())
        self.batches = 0
        self.saves = 0

    async def save(self, statements: list[Statement]) -> None:
        """Store ``statements`` as one unit; returns once they are committed."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((statements, future))
        self._wake.set()
        await future

    async def _store(self, units: list[list[Statement]]) -> list[BaseException | None]:
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._waiting = self._waiting, []
            if not batch:
                continue
            results = await self._store([s for s, _ in batch])
            self.batches += 1
            self.saves += len(batch)
            for (_, future), error in zip(batch, results, strict=True):
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class GroupCommit(Batcher):
    """SQLite: one writer thread; a batch is one hop to it and one transaction, a savepoint a
    save (one failing fails alone)."""

    def __init__(self, path: str) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="writer")
        self._db = self._pool.submit(self._open, path).result()
        super().__init__()

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        return db

    async def _store(self, units: list[list[Statement]]) -> list[BaseException | None]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._write, units)

    def _write(self, units: list[list[Statement]]) -> list[BaseException | None]:
        db = self._db
        results: list[BaseException | None] = []
        db.execute("BEGIN IMMEDIATE")
        for statements in units:
            db.execute("SAVEPOINT s")
            try:
                for name, params in statements:
                    db.execute(SQLITE[name], params)
            except sqlite3.Error as exc:
                db.execute("ROLLBACK TO s")
                results.append(exc)
            else:
                results.append(None)
            db.execute("RELEASE s")
        db.execute("COMMIT")
        return results

    async def close(self) -> None:
        await super().close()
        self._pool.submit(self._db.close).result()
        self._pool.shutdown()


class PgGroupCommit(Batcher):
    """PostgreSQL: one connection; a batch is one transaction, each table's rows in one statement
    over array parameters (``executemany`` with ``--lean``), the games inserted first; when it
    fails, each save is tried alone."""

    def __init__(self, db: asyncpg.Connection, lean: bool) -> None:
        self._db = db
        self._lean = lean
        super().__init__()

    @classmethod
    async def open(cls, url: str, schema: str, *, lean: bool = False) -> PgGroupCommit:
        db = await asyncpg.connect(url)
        await db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await db.execute(f'SET search_path TO "{schema}"')
        await db.execute(PG_SCHEMA)
        if not lean:  # as the hub's batch connection: no plan reads a table whole
            await db.execute("SET enable_seqscan = off")
        return cls(db, lean)

    async def _store(self, units: list[list[Statement]]) -> list[BaseException | None]:
        try:
            await self._write(units)
            return [None] * len(units)
        except asyncpg.PostgresError:
            results: list[BaseException | None] = []
            for statements in units:
                try:
                    await self._write([statements])
                    results.append(None)
                except asyncpg.PostgresError as exc:
                    results.append(exc)
            return results

    async def _write(self, units: list[list[Statement]]) -> None:
        rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in POSTGRES}
        for statements in units:
            for name, params in statements:
                rows[name].append(params)
        async with self._db.transaction():
            for name, table_rows in rows.items():
                if not table_rows:
                    continue
                if self._lean:
                    await self._db.executemany(POSTGRES[name], table_rows)
                else:
                    await self._db.execute(POSTGRES_ARRAYS[name], *zip(*table_rows, strict=True))

    async def close(self) -> None:
        await super().close()
        await self._db.close()
