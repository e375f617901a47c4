"""The reads of ``storage.store.SQLStore`` that let several hub nodes share one database (issue 10).

Each node keeps its live games in memory but decides nothing alone: saves are compare-and-set on
the game's ``seq`` (``StaleGame``), seats are rows (``SeatTaken``), and these reads tell a node
where the others have got to (``heads``), which games are due wherever they were last changed
(``overdue``, which every node sweeps) and who sits where (``live_game_of``).  Written once over
``storage.engine`` like the rest of the store, on the store's read path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from storage import sql
from storage.engine import Dialect, Session

T = TypeVar("T")

# On SQLite served by the partial index ``games_due`` (migration 6), whose expression this spells
# alike; on PostgreSQL by the index of the live games alone (``games_live``, migration 8), the
# due time worked out from their rows: an index over it would make every move's update non-HOT.
_OVERDUE = (
    f"SELECT id FROM games WHERE status = 'playing' AND ({sql.DUE}) <= ?"
    f" ORDER BY ({sql.DUE}), id LIMIT ?"
)


class LiveReads:
    """Where every live game stands, whichever node changed it last."""

    _d: Dialect

    if TYPE_CHECKING:

        async def _read(self, what: str, work: Callable[[Session], Awaitable[T]]) -> T: ...

    async def heads(self, game_ids: Sequence[str]) -> dict[str, int]:
        """Each known game's latest ``seq`` (0 when it has no events), read in one query;
        unknown ids are left out."""
        ids = sorted({game_id for game_id in game_ids if sql.storable(game_id)})
        if not ids:
            return {}
        query = f"SELECT id, seq FROM games WHERE {self._d.in_texts('id')}"

        async def work(s: Session) -> list[sql.Row]:
            return await s.fetch(query, self._d.texts(ids))

        rows = await self._read(f"read the seqs of {len(ids)} games", work)
        return {row["id"]: int(row["seq"]) for row in rows}

    async def overdue(self, now_ms: int, limit: int = 100) -> list[str]:
        """The ids of up to ``limit`` live games whose round deadline or idle limit is at or
        before ``now_ms``, the longest overdue first (then by id)."""
        sql.check_limit(limit)

        async def work(s: Session) -> list[sql.Row]:
            return await s.fetch(_OVERDUE, now_ms, limit)

        return [row["id"] for row in await self._read("read the games due", work)]

    async def live_game_ids(self) -> set[str]:
        """The ids of every live game, read in one query over the seats (a live game seats at
        least one human)."""

        async def work(s: Session) -> list[sql.Row]:
            return await s.fetch("SELECT DISTINCT game_id FROM live_seats")

        return {str(row["game_id"]) for row in await self._read("read the live games' ids", work)}

    async def live_game_of(self, player: str) -> str | None:
        """The id of the live game in which ``player`` (ignoring case) holds a seat, or None;
        the computer holds none."""
        if not sql.storable(player):
            return None

        async def work(s: Session) -> sql.Row | None:
            return await s.fetchrow(
                "SELECT game_id FROM live_seats WHERE player = ?", sql.key(player)
            )

        row = await self._read(f"read the seat of {player}", work)
        return None if row is None else str(row["game_id"])
