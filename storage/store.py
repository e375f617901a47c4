"""The ``Storage`` every SQL backend shares: each method written once, over ``storage.engine``.

Reads run on the backend's read path (read-only connections of their own), so no read waits for
a write; each read is one transaction, so its queries see one snapshot.  Writes go to the store's
single ``storage.writer.Writer``, which stores the saves that arrive while a write is in flight
together, in one transaction (group commit), and answers no caller before its save is committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from protocol.game import COMPUTER, Game
from storage import sql
from storage.base import (
    GamePage,
    Leader,
    NameTaken,
    PlayerRecord,
    PlayerStats,
    RatingUpdate,
    StorageError,
    StoredEvent,
)
from storage.engine import Backend, Session
from storage.live import LiveReads
from storage.reads import RatingReads
from storage.writer import Writer

__all__ = ["SQLStore"]

T = TypeVar("T")

_PLAYER_COLUMNS = (
    "id, name, created, NOT tokenless AS has_token, rating, deviation, volatility, rated"
)
_SELECT_GAMES = f"SELECT {', '.join(sql.GAME_FIELDS)} FROM games"


class SQLStore(RatingReads, LiveReads):
    """``storage.base.Storage`` on a ``storage.engine.Backend``."""

    def __init__(self, backend: Backend) -> None:
        """Serve from an open, migrated backend; the backends' ``open()`` make one."""
        self._backend = backend
        self._d = backend.dialect
        self._writer = Writer(backend)
        self._closing: asyncio.Task[None] | None = None

    @property
    def batches(self) -> int:
        """Batch transactions the writer has run."""
        return self._writer.batches

    @property
    def saves(self) -> int:
        """Saves (``create_game``, ``save_game``) stored or failed in those batches."""
        return self._writer.saves

    @property
    def largest_batch(self) -> int:
        """The most saves one batch has held."""
        return self._writer.largest_batch

    @property
    def queued(self) -> int:
        """Writes asked for that the writer has not taken yet (tests wait on it)."""
        return self._writer.queued

    @property
    def retried(self) -> int:
        """Saves stored again, each alone, because their batch failed."""
        return self._writer.retried

    async def close(self) -> None:
        """Refuse new work, commit (or fail) the writes already asked for, close everything."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        await self._writer.close()
        await self._backend.close()

    async def _read(self, what: str, work: Callable[[Session], Awaitable[T]]) -> T:
        if self._closing is not None:
            raise StorageError(f"cannot {what}: the database {self._backend.where} is closed")
        return await self._backend.read(what, work)

    # -- players -----------------------------------------------------------------------------

    async def create_player(self, name: str, token_hash: str | None, created: int) -> PlayerRecord:
        """Register a player (without a token when ``token_hash`` is None); ``NameTaken`` when
        the name is taken ignoring case."""

        async def work(s: Session) -> int:
            row = await s.fetchrow(
                "INSERT INTO players (name, name_key, tokenless, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name_key) DO NOTHING RETURNING id",
                name,
                sql.key(name),
                token_hash is None,
                created,
            )
            if row is None:
                taken = await s.fetchrow(
                    "SELECT name FROM players WHERE name_key = ?", sql.key(name)
                )
                raise NameTaken(
                    f"the name {taken['name'] if taken else name} is taken; choose another"
                )
            if token_hash is not None:
                await s.fetch(
                    "INSERT INTO tokens (hash, player_id, created) VALUES (?, ?, ?)",
                    token_hash,
                    row["id"],
                    created,
                )
            return int(row["id"])

        player_id = await self._writer.unit(f"register {name}", work)
        return PlayerRecord(
            id=player_id, name=name, created=created, has_token=token_hash is not None
        )

    async def player(self, name: str) -> PlayerRecord | None:
        """The player with this name ignoring case (``computer`` included), or None."""
        if not sql.storable(name):
            return None
        query = f"SELECT {_PLAYER_COLUMNS} FROM players WHERE name_key = ?"

        async def work(s: Session) -> sql.Row | None:
            return await s.fetchrow(query, sql.key(name))

        row = await self._read("look up a player", work)
        return None if row is None else sql.player_record(row)

    async def player_by_token(self, token_hash: str) -> PlayerRecord | None:
        """The player one of whose tokens hashes to ``token_hash``, or None."""
        return (await self.players_by_tokens([token_hash])).get(token_hash)

    async def players_by_tokens(self, hashes: Sequence[str]) -> dict[str, PlayerRecord]:
        """Each of ``hashes`` that a token hashes to, with its player, in one read."""
        stored = sorted({h for h in hashes if sql.storable(h)})
        if not stored:
            return {}
        query = (
            "SELECT t.hash, p.id, p.name, p.created, NOT p.tokenless AS has_token, p.rating,"
            " p.deviation, p.volatility, p.rated"
            " FROM tokens AS t JOIN players AS p ON p.id = t.player_id"
            f" WHERE {self._d.in_texts('t.hash')}"
        )

        async def work(s: Session) -> list[sql.Row]:
            return await s.fetch(query, self._d.texts(stored))

        rows = await self._read("look up tokens", work)
        return {row["hash"]: sql.player_record(row) for row in rows}

    async def add_token(self, player: PlayerRecord, token_hash: str, created: int) -> None:
        """Give a player with tokens another one (another device)."""

        async def work(s: Session) -> None:
            await s.fetch(
                "INSERT INTO tokens (hash, player_id, created) VALUES (?, ?, ?)",
                token_hash,
                player.id,
                created,
            )

        await self._writer.unit(f"add a token for {player.name}", work)

    async def revoke_token(self, token_hash: str) -> bool:
        """Forget one token (the player's others keep working); False when it was not known."""
        if not sql.storable(token_hash):
            return False

        async def work(s: Session) -> bool:
            row = await s.fetchrow("DELETE FROM tokens WHERE hash = ? RETURNING hash", token_hash)
            return row is not None

        revoked: bool = await self._writer.unit("revoke a token", work)
        return revoked

    async def players(self, limit: int, after: str | None) -> list[PlayerRecord]:
        """Registered players (not ``computer``) ordered by name ignoring case, after ``after``."""
        sql.check_limit(limit)
        query = (
            f"SELECT {_PLAYER_COLUMNS} FROM players"
            " WHERE name_key <> ? AND name_key > ? ORDER BY name_key LIMIT ?"
        )

        async def work(s: Session) -> list[sql.Row]:
            return await s.fetch(query, COMPUTER, sql.key(after or ""), limit)

        return [sql.player_record(row) for row in await self._read("list players", work)]

    async def player_stats(self, name: str) -> PlayerStats:
        """The player's finished games; rounds won and lost over all the player's games."""
        if not sql.storable(name):
            return PlayerStats(0, 0, 0, 0, 0, 0)
        f, p = self._d.fold, self._d.fold("?")
        count = "COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0)"
        games_query = f"""SELECT COUNT(*) AS games,
                {count.format(f"{f('winner')} = {p}")} AS wins,
                {count.format(f"{f('winner')} <> {p}")} AS losses,
                {count.format("winner IS NULL")} AS draws
            FROM games
            WHERE status = 'finished' AND ({f("player_a")} = {p} OR {f("player_b")} = {p})"""
        rounds_query = f"""SELECT {count.format(f"{f('r.winner')} = {p}")} AS won,
                {count.format(f"{f('r.winner')} <> {p}")} AS lost
            FROM rounds AS r JOIN games AS g ON g.id = r.game_id
            WHERE {f("g.player_a")} = {p} OR {f("g.player_b")} = {p}"""

        async def work(s: Session) -> tuple[sql.Row | None, sql.Row | None]:
            return (
                await s.fetchrow(games_query, *[name] * 4),
                await s.fetchrow(rounds_query, *[name] * 4),
            )

        games, rounds = await self._read(f"count the games of {name}", work)
        assert games is not None and rounds is not None
        return PlayerStats(
            games=int(games["games"]),
            wins=int(games["wins"]),
            losses=int(games["losses"]),
            draws=int(games["draws"]),
            rounds_won=int(rounds["won"]),
            rounds_lost=int(rounds["lost"]),
        )

    async def leaderboard(self, limit: int, *, include_computer: bool = False) -> list[Leader]:
        """Players with a finished game, most wins first, then name ignoring case."""
        sql.check_limit(limit)
        f = self._d.fold
        seat = (
            "SELECT {0} AS name, CASE WHEN {1} = {2} THEN 1 ELSE 0 END AS won"
            " FROM games WHERE status = 'finished'"
        )
        # One query with the players' rows, so the legacy top scores need no lookup per leader.
        query = f"""SELECT p.id, p.name, p.created, s.wins, s.games FROM (
                SELECT lower(name) AS name_key, SUM(won) AS wins, COUNT(*) AS games
                FROM ({seat.format("player_a", f("winner"), f("player_a"))}
                      UNION ALL
                      {seat.format("player_b", f("winner"), f("player_b"))}) AS seats
                WHERE ? OR lower(name) <> ?
                GROUP BY lower(name)
            ) AS s JOIN players AS p ON p.name_key = s.name_key
            ORDER BY s.wins DESC, p.name_key
            LIMIT ?"""

        async def work(s: Session) -> list[sql.Row]:
            return await s.fetch(query, include_computer, COMPUTER, limit)

        return [sql.leader(row) for row in await self._read("read the leaderboard", work)]

    # -- games -------------------------------------------------------------------------------

    async def create_game(self, game: Game, events: list[StoredEvent]) -> None:
        """Store a new game with its first events, seating its humans when it is live (a
        trigger of migration 6 does, in the insert's transaction), or ``SeatTaken``."""
        await self._writer.save(game, events, create=True)

    async def save_game(
        self,
        game: Game,
        events: list[StoredEvent],
        ratings: Sequence[RatingUpdate] = (),
        *,
        expected_seq: int | None = None,
    ) -> None:
        """Store the game's new state, its rounds and the events the change produced over the
        seq before them (``StaleGame`` otherwise), or with no events over ``expected_seq`` when
        it is given; with ``ratings`` the players' new ratings too, or ``StaleRating``."""
        if events:
            if expected_seq is not None and expected_seq != events[0].seq - 1:
                raise ValueError(
                    f"expected_seq {expected_seq} is not the seq before event {events[0].seq}"
                )
            expected_seq = events[0].seq - 1
        await self._writer.save(game, events, create=False, ratings=ratings, expected=expected_seq)

    async def game(self, game_id: str) -> Game | None:
        """The game with this id, or None."""
        if not sql.storable(game_id):
            return None

        async def work(s: Session) -> list[Game]:
            return await self._load(s, await s.fetch(_SELECT_GAMES + " WHERE id = ?", game_id))

        games = await self._read(f"read game {game_id}", work)
        return games[0] if games else None

    async def live_games(self) -> list[Game]:
        """Every game still ``playing``, oldest first (to resume after a restart)."""
        query = _SELECT_GAMES + " WHERE status = 'playing' ORDER BY started, id"

        async def work(s: Session) -> list[Game]:
            return await self._load(s, await s.fetch(query))

        games: list[Game] = await self._read("read the live games", work)
        return games

    async def games(
        self, *, player: str | None, status: str | None, limit: int, before: str | None
    ) -> GamePage:
        """Games newest first, filtered by player and status; ``before`` is an opaque cursor."""
        sql.check_limit(limit)
        f = self._d.fold
        where: list[str] = []
        params: list[Any] = []
        if player is not None:
            where.append(f"({f('player_a')} = {f('?')} OR {f('player_b')} = {f('?')})")
            params += [player, player]
        if status is not None:
            sql.check_status(status)
            where.append("status = ?")
            params.append(status)
        if before is not None:
            where.append("(started, id) < (?, ?)")
            params += sql.decode_cursor(before)
        if player is not None and not sql.storable(player):
            return GamePage(games=[], next=None)
        query = _SELECT_GAMES
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY started DESC, id DESC LIMIT ?"

        async def work(s: Session) -> list[Game]:
            return await self._load(s, await s.fetch(query, *params, limit + 1))

        games: list[Game] = await self._read("list games", work)
        if len(games) <= limit:
            return GamePage(games=games, next=None)
        games = games[:limit]
        return GamePage(games=games, next=sql.encode_cursor(games[-1].started, games[-1].id))

    async def events(self, game_id: str, after: int) -> list[StoredEvent]:
        """The game topic's events with ``seq > after``, in order."""
        if not sql.storable(game_id):
            return []
        # From the row holding seq ``after + 1`` (a row holds the events of one time, from its
        # ``seq``: ``sql.event_rows``) on.
        query = (
            "SELECT seq, ts, event, data FROM game_events WHERE game_id = ? AND seq >= COALESCE("
            "(SELECT MAX(seq) FROM game_events WHERE game_id = ? AND seq <= ?), 0) ORDER BY seq"
        )

        async def work(s: Session) -> list[sql.Row]:
            return await s.fetch(query, game_id, game_id, after + 1)

        rows = await self._read(f"read the events of game {game_id}", work)
        return [event for row in rows for event in sql.stored_events(row, after)]

    async def last_seq(self, game_id: str) -> int:
        """The game topic's latest ``seq`` (0 when it has none)."""
        if not sql.storable(game_id):
            return 0

        async def work(s: Session) -> sql.Row | None:
            return await s.fetchrow("SELECT seq FROM games WHERE id = ?", game_id)

        row = await self._read(f"read the seq of game {game_id}", work)
        return 0 if row is None else int(row["seq"])

    async def _load(self, s: Session, rows: list[sql.Row]) -> list[Game]:
        """Rebuild games from ``games`` rows, fetching all their rounds in one query."""
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        rounds: dict[str, list[sql.Row]] = {game_id: [] for game_id in ids}
        for r in await s.fetch(
            "SELECT game_id, round, move_a, move_b, winner, commitment, nonce FROM rounds"
            f" WHERE {self._d.in_texts('game_id')} ORDER BY game_id, round",
            self._d.texts(ids),
        ):
            rounds[r["game_id"]].append(r)
        return [sql.game(row, rounds[row["id"]]) for row in rows]
