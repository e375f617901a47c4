"""The games a hub process holds: their copies, latest seqs, locks and deadline timers.

``GameTable`` is the same on one node and on many: in one process it holds every live game; on a
cluster node it is a cache of the games this node acted on (``hub.cluster.games``).  Each game's
lock orders every change to (and catch-up of) that game's topic in this process; a round's
deadline is a timer here that asks the games part (``hub.livegames.LiveGames.expire``) to end
the round when it fires.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from protocol.game import Game

if TYPE_CHECKING:
    from hub.service import GameHub


class GameTable:
    """Live games (or their cached copies), their latest seqs, locks and deadline timers."""

    def __init__(self, hub: GameHub) -> None:
        self.hub = hub
        self.live: dict[str, Game] = {}  # live games
        self.seqs: dict[str, int] = {}  # latest seq of each live game's topic
        self.locks: dict[str, _GameLock] = {}
        self.deadlines: dict[str, asyncio.TimerHandle] = {}

    def lock(self, game_id: str) -> _GameLock:
        """Hold the lock that orders every change to (and catch-up of) one game's topic:
        ``async with table.lock(game_id):``, nothing else (its user is counted from this call).

        Locks exist only while a game is live or someone holds or awaits its lock, so looking up
        unknown or finished games never grows the table.
        """
        entry = self.locks.get(game_id)
        if entry is None:
            entry = self.locks[game_id] = _GameLock(self, game_id)
        entry.users += 1
        return entry

    def locked(self, game_id: str) -> bool:
        """True while someone holds the game's lock."""
        entry = self.locks.get(game_id)
        return entry is not None and entry.lock.locked()

    def forget(self, game_id: str) -> None:
        """Drop a game's copy, seq and deadline timer."""
        self.live.pop(game_id, None)
        self.seqs.pop(game_id, None)
        handle = self.deadlines.pop(game_id, None)
        if handle is not None:
            handle.cancel()

    # -- deadlines -------------------------------------------------------------------------

    def arm(self, game: Game) -> None:
        """Time the game's open round (its deadline or idle limit).  A move pushes the round's
        due time on: the game's timer is kept when it fires no later than the new due time
        (it then finds the round not due yet and is set again for the rest, in ``expire``), so
        moves make and cancel no timers; it is replaced only when the round is due sooner."""
        due = game.due
        handle = self.deadlines.get(game.id)
        if due is None or game.is_over or self.hub.closing:
            if handle is not None:
                del self.deadlines[game.id]
                handle.cancel()
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + max(0.0, (due - self.hub.now()) / 1000)
        if handle is not None:
            # Due times are whole ms: a timer a ms later than the new due time is the same one.
            if handle.when() <= when + 0.001:
                return
            handle.cancel()
        self.deadlines[game.id] = loop.call_at(when, self._due, game.id)

    def _due(self, game_id: str) -> None:
        """A game's timer fired: its games part ends the open round if it is due (or sets the
        timer again for the rest when a move pushed it on)."""
        self.deadlines.pop(game_id, None)
        game = self.live.get(game_id)
        hub = self.hub
        task = asyncio.create_task(
            hub.games.expire(game_id, 0 if game is None else game.round), name=f"deadline-{game_id}"
        )
        hub._tasks.add(task)
        task.add_done_callback(hub._tasks.discard)

    def close(self) -> None:
        """The hub is stopping: no deadline fires any more."""
        for handle in self.deadlines.values():
            handle.cancel()
        self.deadlines.clear()


class _GameLock:
    """A game's lock and how many tasks hold or await it; ``async with`` it (a class, not an
    ``asynccontextmanager``, whose generator costs a dozen Python calls on every move)."""

    __slots__ = ("_game_id", "_table", "lock", "users")

    def __init__(self, table: GameTable, game_id: str) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
        self._table = table
        self._game_id = game_id

    async def __aenter__(self) -> None:
        try:
            await self.lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self.lock.release()
        self._leave()

    def _leave(self) -> None:
        self.users -= 1
        if not self.users and self._game_id not in self._table.live:
            del self._table.locks[self._game_id]
