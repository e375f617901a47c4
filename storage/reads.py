"""The reads of ``storage.store.SQLStore`` that issue 11 added: ratings and the computer's history.

Written once over ``storage.engine`` like the rest of the store, on the store's read path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from protocol.game import COMPUTER
from protocol.ratings import PROVISIONAL_ABOVE, leaderboard
from protocol.reader import HISTORY_LIMIT, Seen
from storage import sql
from storage.base import RatedLeader, RatingPoint
from storage.engine import Dialect, Session

T = TypeVar("T")


class RatingReads:
    """Ratings, the rating leaderboard and a player's rounds against the computer."""

    _d: Dialect

    if TYPE_CHECKING:

        async def _read(self, what: str, work: Callable[[Session], Awaitable[T]]) -> T: ...

    async def rating_history(self, name: str, limit: int) -> list[RatingPoint]:
        """The player's rating after each of their latest ``limit`` rated games, oldest first."""
        sql.check_limit(limit)
        if not sql.storable(name):
            return []
        query = """SELECT h.game_id, h.ts, h.rating, h.deviation, h.volatility
            FROM rating_history AS h JOIN players AS p ON p.id = h.player_id
            WHERE p.name_key = ? ORDER BY h.ts DESC, h.game_id DESC LIMIT ?"""

        async def work(s: Session) -> list[sql.Row]:
            return await s.fetch(query, sql.key(name), limit)

        rows = await self._read(f"read the ratings of {name}", work)
        return [RatingPoint(r["game_id"], r["ts"], sql.rating(r)) for r in reversed(rows)]

    async def rating_leaders(self, limit: int) -> list[RatedLeader]:
        """Players whose rating is not provisional, highest shown rating first, then name
        ignoring case (``protocol.ratings.leaderboard``), with their wins and games."""
        sql.check_limit(limit)
        f = self._d.fold
        seat = "SELECT {0} AS name, CASE WHEN {1} = {2} THEN 1 ELSE 0 END AS won FROM games"
        # A shown deviation over PROVISIONAL_ABOVE is provisional: one of 110.5 or more.
        query = f"""SELECT p.name, p.rating, p.deviation, p.volatility,
                COALESCE(s.wins, 0) AS wins, COALESCE(s.games, 0) AS games
            FROM players AS p LEFT JOIN (
                SELECT lower(name) AS name_key, SUM(won) AS wins, COUNT(*) AS games
                FROM ({seat.format("player_a", f("winner"), f("player_a"))}
                          WHERE status = 'finished'
                      UNION ALL
                      {seat.format("player_b", f("winner"), f("player_b"))}
                          WHERE status = 'finished') AS seats
                GROUP BY lower(name)
            ) AS s ON s.name_key = p.name_key
            WHERE p.rated > 0 AND p.deviation < ?"""

        async def work(s: Session) -> list[sql.Row]:
            return await s.fetch(query, PROVISIONAL_ABOVE + 0.5)

        rows = {r["name"]: r for r in await self._read("read the rating leaderboard", work)}
        ranked = leaderboard((name, sql.rating(r)) for name, r in rows.items())[:limit]
        return [
            RatedLeader(name, rows[name]["wins"], rows[name]["games"], sql.rating(rows[name]))
            for name, _ in ranked
        ]

    async def computer_rounds(
        self, player: str, rules: str, *, before: str | None = None, limit: int = HISTORY_LIMIT
    ) -> list[Seen]:
        """The player's latest ``limit`` rounds against the computer under ``rules`` (in games
        other than ``before``), oldest first, as ``protocol.reader`` reads them."""
        sql.check_limit(limit)
        if not sql.storable(player) or (before is not None and not sql.storable(before)):
            return []
        f = self._d.fold
        query = f"""SELECT r.move_a, r.move_b FROM rounds AS r JOIN games AS g ON g.id = r.game_id
            WHERE {f("g.player_a")} = {f("?")} AND g.player_b = ? AND g.rules = ? AND g.id <> ?
              AND r.move_b IS NOT NULL
            ORDER BY g.started DESC, g.id DESC, r.round DESC LIMIT ?"""

        async def work(s: Session) -> list[sql.Row]:
            return await s.fetch(query, player, COMPUTER, rules, before or "", limit)

        rows = await self._read(f"read the rounds of {player} against the computer", work)
        return [(r["move_a"], r["move_b"]) for r in reversed(rows)]
