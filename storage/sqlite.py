"""The SQLite backend: one aiosqlite connection, the single writer, in WAL mode.

Theory of operation
-------------------
Every public method is one unit of work: it takes the connection's lock, opens a transaction
(``BEGIN IMMEDIATE`` when it writes, so the write lock is taken up front instead of failing on
upgrade), and commits, or rolls back everything on any error.  The lock matters because aiosqlite
runs statements on one thread in queue order, so two coroutines interleaving their statements would
otherwise share one transaction.  ``synchronous=NORMAL`` in WAL mode loses nothing acknowledged when
the process dies (it can lose the last commits on power loss, which we accept).

A game is one ``games`` row holding everything a restart needs to resume it exactly (the open
round's pending moves and the computer's secret), plus its resolved ``rounds`` and the events of its
topic in ``game_events``.  A trigger makes each topic's ``seq`` rise by exactly 1, so a replay after
a restart can never show a gap.  The schema version is ``PRAGMA user_version``: the number of
``MIGRATIONS`` applied.  Times are unix milliseconds.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from protocol.game import COMPUTER, Game, Round
from storage import sql
from storage.base import (
    GamePage,
    Leader,
    NameTaken,
    PlayerRecord,
    PlayerStats,
    StorageError,
    StoredEvent,
)

__all__ = ["MIGRATIONS", "SQLiteStorage", "sqlite_path"]

BUSY_TIMEOUT_MS = 5000
MEMORY = ":memory:"

_NOW_MS = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)"

# Each migration is a list of statements run in one transaction; append, never edit a shipped one.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE players (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            token_hash TEXT UNIQUE,
            created INTEGER NOT NULL
        )""",
        # The computer is a player row so its name is taken and the legacy top scores can show it.
        f"""INSERT INTO players (name, name_key, token_hash, created)
            VALUES ('{COMPUTER}', '{COMPUTER}', NULL, {_NOW_MS})""",
        # Player names are ASCII (docs/protocol.md, Players and tokens), so NOCASE compares them
        # exactly as casefold() does and
        # lets the seat and winner indexes serve lookups that ignore case.
        """CREATE TABLE games (
            id TEXT PRIMARY KEY,
            rules TEXT NOT NULL,
            best_of INTEGER NOT NULL,
            player_a TEXT NOT NULL COLLATE NOCASE,
            player_b TEXT NOT NULL COLLATE NOCASE,
            status TEXT NOT NULL CHECK (status IN ('playing', 'finished')),
            reason TEXT CHECK (
                reason IS NULL
                OR reason IN ('won', 'drawn', 'resigned', 'timeout', 'abandoned')
            ),
            winner TEXT COLLATE NOCASE,
            score_a INTEGER NOT NULL,
            score_b INTEGER NOT NULL,
            round INTEGER NOT NULL,
            deadline INTEGER,
            round_seconds REAL NOT NULL,
            secret_roll TEXT,
            secret_nonce TEXT,
            pending TEXT NOT NULL,
            epoch TEXT NOT NULL,
            started INTEGER NOT NULL,
            finished INTEGER,
            seq INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX games_by_started ON games (started, id)",
        "CREATE INDEX games_by_player_a ON games (player_a, started, id)",
        "CREATE INDEX games_by_player_b ON games (player_b, started, id)",
        "CREATE INDEX games_by_status ON games (status, started, id)",
        "CREATE INDEX games_by_winner ON games (winner, status)",
        """CREATE TABLE rounds (
            game_id TEXT NOT NULL REFERENCES games (id) ON DELETE CASCADE,
            round INTEGER NOT NULL,
            move_a TEXT,
            move_b TEXT,
            winner TEXT COLLATE NOCASE,
            commitment TEXT,
            nonce TEXT,
            PRIMARY KEY (game_id, round)
        ) WITHOUT ROWID""",
        """CREATE TABLE game_events (
            game_id TEXT NOT NULL REFERENCES games (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            event TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (game_id, seq)
        ) WITHOUT ROWID""",
        # Subscribers recover by seq (docs/protocol.md): a duplicate or a gap would lose events.
        """CREATE TRIGGER game_events_follow BEFORE INSERT ON game_events
            WHEN NEW.seq <> 1 + COALESCE(
                (SELECT MAX(seq) FROM game_events WHERE game_id = NEW.game_id), 0)
            BEGIN
                SELECT RAISE(ABORT, 'each game event must take the next seq of its topic');
            END""",
    ],
    [
        # A game left without a move for idle_seconds (0: never) after idle_until ends abandoned.
        "ALTER TABLE games ADD COLUMN idle_seconds REAL NOT NULL DEFAULT 0",
        "ALTER TABLE games ADD COLUMN idle_until INTEGER",
        sql.LEGACY_IDLE_BACKFILL,
    ],
]

_PLAYER_COLUMNS = "id, name, created, token_hash IS NOT NULL AS has_token"
_GAME_COLUMNS = ", ".join(sql.GAME_FIELDS)
_SELECT_GAMES = f"SELECT {_GAME_COLUMNS} FROM games"
_INSERT_GAME = (
    f"INSERT INTO games ({_GAME_COLUMNS}, seq)"
    f" VALUES ({', '.join(':' + f for f in sql.GAME_FIELDS)}, :seq)"
)
# A save without events keeps the stored seq (:seq is None then).
_UPDATE_GAME = (
    f"UPDATE games SET {', '.join(f'{f} = :{f}' for f in sql.GAME_FIELDS if f != 'id')},"
    " seq = COALESCE(:seq, seq) WHERE id = :id"
)
_INSERT_ROUND = (
    "INSERT INTO rounds (game_id, round, move_a, move_b, winner, commitment, nonce)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = "INSERT INTO game_events (game_id, seq, ts, event, data) VALUES (?, ?, ?, ?, ?)"


def sqlite_path(url: str) -> str:
    """The SQLite file a ``--db`` value names: a path, or a SQLAlchemy-style ``sqlite://`` URL."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    if scheme.lower() != "sqlite":
        raise StorageError(
            f"unknown database URL scheme {scheme!r}; give a file path, sqlite:///relative.db,"
            " sqlite:////absolute.db or postgresql://…"
        )
    # SQLAlchemy's form: sqlite://<host>/<path>, the host always empty; so the third slash ends
    # the (empty) host and a fourth one starts an absolute path.
    if rest in ("", "/", f"/{MEMORY}"):
        return MEMORY
    if not rest.startswith("/"):
        raise StorageError(
            f"database URL {url!r} names a host; write sqlite:///relative.db or"
            " sqlite:////absolute.db"
        )
    return rest[1:]


class SQLiteStorage:
    """``storage.base.Storage`` on a SQLite file; make one with ``await SQLiteStorage.open()``."""

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        """Wrap an open, migrated connection; use ``open()`` instead."""
        self._db = db
        self._path = path
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: str) -> SQLiteStorage:
        """Open (or create) and migrate the database file; ``StorageError`` when it cannot."""
        _check_path(path)
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        try:
            db.row_factory = aiosqlite.Row
            # busy_timeout first, so that switching to WAL waits for another process's lock.
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            await _migrate(db, path)
        except BaseException as exc:
            await db.close()
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"cannot open database {path}: {exc}") from exc
            raise
        return cls(db, path)

    async def close(self) -> None:
        """Close the connection and its thread; every unit of work has already committed."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            await self._db.close()

    # -- units of work ---------------------------------------------------------------------

    @asynccontextmanager
    async def _unit(self, what: str, *, write: bool) -> AsyncIterator[aiosqlite.Connection]:
        """One transaction under the lock, committed on success and rolled back on any error."""
        async with self._lock:
            if self._closed:
                raise StorageError(f"cannot {what}: the database {self._path} is closed")
            try:
                try:
                    await self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                    yield self._db
                    await self._db.commit()
                except BaseException:
                    # Even when this task is cancelled, BEGIN has been queued on the connection's
                    # thread and this rollback is queued right behind it, before any later unit.
                    await self._db.rollback()
                    raise
            except sqlite3.Error as exc:
                raise StorageError(f"cannot {what}: {exc}") from exc

    # -- players ---------------------------------------------------------------------------

    async def create_player(self, name: str, token_hash: str | None, created: int) -> PlayerRecord:
        """Register a player (without a token when ``token_hash`` is None); ``NameTaken`` when
        the name is taken ignoring case."""
        async with self._unit(f"register {name}", write=True) as db:
            taken = await _one(db, "SELECT name FROM players WHERE name_key = ?", (sql.key(name),))
            if taken is not None:
                raise NameTaken(f"the name {taken['name']} is taken; choose another")
            async with db.execute(
                "INSERT INTO players (name, name_key, token_hash, created) VALUES (?, ?, ?, ?)",
                (name, sql.key(name), token_hash, created),
            ) as cursor:
                player_id = cursor.lastrowid
        assert player_id is not None
        return PlayerRecord(
            id=player_id, name=name, created=created, has_token=token_hash is not None
        )

    async def player(self, name: str) -> PlayerRecord | None:
        """The player with this name ignoring case (``computer`` included), or None."""
        if not sql.storable(name):
            return None
        async with self._unit("look up a player", write=False) as db:
            row = await _one(
                db, f"SELECT {_PLAYER_COLUMNS} FROM players WHERE name_key = ?", (sql.key(name),)
            )
        return None if row is None else sql.player_record(row)

    async def player_by_token(self, token_hash: str) -> PlayerRecord | None:
        """The player whose token hashes to ``token_hash``, or None (never a player without one)."""
        if not sql.storable(token_hash):
            return None
        async with self._unit("look up a token", write=False) as db:
            row = await _one(
                db,
                f"SELECT {_PLAYER_COLUMNS} FROM players"
                " WHERE token_hash IS NOT NULL AND token_hash = ?",
                (token_hash,),
            )
        return None if row is None else sql.player_record(row)

    async def players(self, limit: int, after: str | None) -> list[PlayerRecord]:
        """Registered players (not ``computer``) ordered by name ignoring case, after ``after``."""
        sql.check_limit(limit)
        async with self._unit("list players", write=False) as db:
            rows = await db.execute_fetchall(
                f"SELECT {_PLAYER_COLUMNS} FROM players"
                " WHERE name_key <> ? AND name_key > ? ORDER BY name_key LIMIT ?",
                (COMPUTER, sql.key(after or ""), limit),
            )
        return [sql.player_record(row) for row in rows]

    async def player_stats(self, name: str) -> PlayerStats:
        """The player's finished games; rounds won and lost over all the player's games."""
        if not sql.storable(name):
            return PlayerStats(0, 0, 0, 0, 0, 0)
        async with self._unit(f"count the games of {name}", write=False) as db:
            games = await _one(
                db,
                """SELECT COUNT(*) AS games,
                          COALESCE(SUM(winner = :p), 0) AS wins,
                          COALESCE(SUM(winner <> :p), 0) AS losses,
                          COALESCE(SUM(winner IS NULL), 0) AS draws
                   FROM games
                   WHERE status = 'finished' AND (player_a = :p OR player_b = :p)""",
                {"p": name},
            )
            rounds = await _one(
                db,
                """SELECT COALESCE(SUM(r.winner = :p), 0) AS won,
                          COALESCE(SUM(r.winner <> :p), 0) AS lost
                   FROM rounds AS r JOIN games AS g ON g.id = r.game_id
                   WHERE g.player_a = :p OR g.player_b = :p""",
                {"p": name},
            )
        assert games is not None and rounds is not None
        return PlayerStats(
            games=games["games"],
            wins=games["wins"],
            losses=games["losses"],
            draws=games["draws"],
            rounds_won=rounds["won"],
            rounds_lost=rounds["lost"],
        )

    async def leaderboard(self, limit: int, *, include_computer: bool = False) -> list[Leader]:
        """Players with a finished game, most wins first, then name ignoring case."""
        sql.check_limit(limit)
        async with self._unit("read the leaderboard", write=False) as db:
            # One query with the players' rows, so the legacy top scores need no lookup per leader.
            rows = await db.execute_fetchall(
                """SELECT p.id, p.name, p.created, s.wins, s.games FROM (
                       SELECT lower(name) AS name_key, SUM(won) AS wins, COUNT(*) AS games
                       FROM (
                           SELECT player_a AS name, winner IS player_a AS won
                           FROM games WHERE status = 'finished'
                           UNION ALL
                           SELECT player_b AS name, winner IS player_b AS won
                           FROM games WHERE status = 'finished'
                       )
                       WHERE :all OR name <> :computer
                       GROUP BY name COLLATE NOCASE
                   ) AS s JOIN players AS p ON p.name_key = s.name_key
                   ORDER BY s.wins DESC, p.name_key
                   LIMIT :limit""",
                {"all": include_computer, "computer": COMPUTER, "limit": limit},
            )
        return [sql.leader(row) for row in rows]

    # -- games -----------------------------------------------------------------------------

    async def create_game(self, game: Game, events: list[StoredEvent]) -> None:
        """Store a new game with its first events."""
        event_rows = sql.event_rows(game.id, events)
        async with self._unit(f"create game {game.id}", write=True) as db:
            await db.execute(_INSERT_GAME, sql.game_row(game, events))
            await _insert_rounds(db, game, game.rounds)
            await db.executemany(_INSERT_EVENT, event_rows)

    async def save_game(self, game: Game, events: list[StoredEvent]) -> None:
        """Store the game's new state, its rounds and the events the change produced."""
        event_rows = sql.event_rows(game.id, events)
        async with self._unit(f"save game {game.id}", write=True) as db:
            async with db.execute(
                _UPDATE_GAME, sql.game_row(game, events, keep_seq=True)
            ) as cursor:
                if cursor.rowcount != 1:
                    raise StorageError(f"cannot save game {game.id}: it was never created")
            stored = await _one(
                db,
                "SELECT COALESCE(MAX(round), 0) AS last FROM rounds WHERE game_id = ?",
                (game.id,),
            )
            assert stored is not None
            # Resolved rounds never change, so only those past the last stored one are new.
            await _insert_rounds(db, game, [r for r in game.rounds if r.round > stored["last"]])
            await db.executemany(_INSERT_EVENT, event_rows)

    async def game(self, game_id: str) -> Game | None:
        """The game with this id, or None."""
        if not sql.storable(game_id):
            return None
        async with self._unit(f"read game {game_id}", write=False) as db:
            games = await _load_games(
                db, await db.execute_fetchall(_SELECT_GAMES + " WHERE id = ?", (game_id,))
            )
        return games[0] if games else None

    async def live_games(self) -> list[Game]:
        """Every game still ``playing``, oldest first (to resume after a restart)."""
        async with self._unit("read the live games", write=False) as db:
            return await _load_games(
                db,
                await db.execute_fetchall(
                    _SELECT_GAMES + " WHERE status = 'playing' ORDER BY started, id"
                ),
            )

    async def games(
        self, *, player: str | None, status: str | None, limit: int, before: str | None
    ) -> GamePage:
        """Games newest first, filtered by player and status; ``before`` is an opaque cursor."""
        sql.check_limit(limit)
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit + 1}
        if player is not None:
            where.append("(player_a = :player OR player_b = :player)")
            params["player"] = player
        if status is not None:
            sql.check_status(status)
            where.append("status = :status")
            params["status"] = status
        if before is not None:
            params["started"], params["id"] = sql.decode_cursor(before)
            where.append("(started, id) < (:started, :id)")
        if player is not None and not sql.storable(player):
            return GamePage(games=[], next=None)
        query = _SELECT_GAMES
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY started DESC, id DESC LIMIT :limit"
        async with self._unit("list games", write=False) as db:
            games = await _load_games(db, await db.execute_fetchall(query, params))
        if len(games) <= limit:
            return GamePage(games=games, next=None)
        games = games[:limit]
        return GamePage(games=games, next=sql.encode_cursor(games[-1].started, games[-1].id))

    async def events(self, game_id: str, after: int) -> list[StoredEvent]:
        """The game topic's events with ``seq > after``, in order."""
        if not sql.storable(game_id):
            return []
        async with self._unit(f"read the events of game {game_id}", write=False) as db:
            rows = await db.execute_fetchall(
                "SELECT seq, ts, event, data FROM game_events"
                " WHERE game_id = ? AND seq > ? ORDER BY seq",
                (game_id, after),
            )
        return [sql.stored_event(row) for row in rows]

    async def last_seq(self, game_id: str) -> int:
        """The game topic's latest ``seq`` (0 when it has none)."""
        if not sql.storable(game_id):
            return 0
        async with self._unit(f"read the seq of game {game_id}", write=False) as db:
            row = await _one(db, "SELECT seq FROM games WHERE id = ?", (game_id,))
        return 0 if row is None else int(row["seq"])


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


async def _migrate(db: aiosqlite.Connection, path: str) -> None:
    """Bring the schema up to ``len(MIGRATIONS)``, each migration in its own transaction."""
    row = await _one(db, "PRAGMA user_version")
    version = int(row[0]) if row is not None else 0
    if version > len(MIGRATIONS):
        raise StorageError(
            f"cannot open database {path}: its schema version {version} is newer than this"
            f" rps-hub knows ({len(MIGRATIONS)}); upgrade rps-hub"
        )
    for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
        try:
            await db.execute("BEGIN IMMEDIATE")
            for statement in statements:
                await db.execute(statement)
            # user_version lives in the file header, so it commits or rolls back with the rest.
            await db.execute(f"PRAGMA user_version = {number}")
            await db.commit()
        except BaseException:
            await db.rollback()
            raise


# -- rows and records -----------------------------------------------------------------------


async def _one(
    db: aiosqlite.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> sqlite3.Row | None:
    """The first row of a query, or None."""
    async with db.execute(sql, params) as cursor:
        row: sqlite3.Row | None = await cursor.fetchone()
    return row


async def _insert_rounds(db: aiosqlite.Connection, game: Game, rounds: Iterable[Round]) -> None:
    """Insert resolved rounds, moves in seat order."""
    await db.executemany(_INSERT_ROUND, sql.round_rows(game, rounds))


async def _load_games(db: aiosqlite.Connection, rows: Iterable[sqlite3.Row]) -> list[Game]:
    """Rebuild games from ``games`` rows, fetching all their rounds in one query."""
    rows = list(rows)
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    rounds: dict[str, list[sqlite3.Row]] = {game_id: [] for game_id in ids}
    for r in await db.execute_fetchall(
        "SELECT game_id, round, move_a, move_b, winner, commitment, nonce FROM rounds"
        f" WHERE game_id IN ({', '.join('?' * len(ids))}) ORDER BY game_id, round",
        ids,
    ):
        rounds[r["game_id"]].append(r)
    return [sql.game(row, rounds[row["id"]]) for row in rows]
