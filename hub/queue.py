"""The fair queue of ``GameHub`` (docs/protocol.md, the queue): who waits, who is paired, when.

``play "*"`` puts a ``protocol.pairing.Waiting`` entry (the player's shown rating, rules,
best_of, since when) beside the lobby's ticket, then pairs whoever ``protocol.pairing.pairs``
says may be paired now: the longest waiter first, with the compatible player nearest in rating
within the longer waiter's gap.  A gap widens as its owner waits, so a timer fires when
``protocol.pairing.due`` says the next pair becomes possible and pairs again.  Each change of the
queue is announced on the lobby as one ``queue`` event per changed pool, after the statuses (the
lobby's core tells which pools: ``protocol.lobby.Lobby.announce``).

The pairing works on its own clock: ``Config.queue_step`` seconds count as the 5 s step of
``protocol.pairing`` (the same clock when it is 5), so tests can widen gaps quickly.
"""

from __future__ import annotations

import asyncio
import logging

from hub.games import GameActions
from protocol.errors import ProtocolError
from protocol.game import Game
from protocol.pairing import GAP_EVERY, Waiting, due, pairs
from protocol.ratings import NEW

log = logging.getLogger(__name__)


class FairQueue(GameActions):
    """The queue's entries and its timer."""

    def _queue_now(self) -> int:
        """Now on the pairing's clock (milliseconds, scaled by ``Config.queue_step``)."""
        return int(self.clock() * GAP_EVERY / self.config.queue_step)

    def _waiting(self) -> list[Waiting]:
        """The entries of the players in the lobby's queue now; the others are forgotten."""
        entries = self._queue_entries
        queued = {t.player for t in self.lobby.queue}
        for gone in [p for p in entries if p not in queued]:
            del entries[gone]
        return [entries[p] for p in queued if p in entries]

    async def wait(self, player: str, rules: str, best_of: int) -> Game | None:
        """Queue ``player`` and pair who can be paired; returns the player's game when paired."""
        record = await self.storage.player(player)
        rating = (record.rating if record is not None else NEW).public.value
        self.lobby.wait(player, rules, best_of)
        old = self._queue_entries.get(player)
        since = old.since if old is not None and old.pool == (rules, best_of) else None
        entry = Waiting(player, rating, rules, best_of, since or self._queue_now())
        self._queue_entries[player] = entry
        await self.pair_waiting()
        live = self.lobby.live.get(player)
        if live is None:
            self._sync_statuses((player,))
            return None
        return self.table.live.get(live)

    async def pair_waiting(self) -> None:
        """Start a game for each pair that may be made now."""
        for first, second in pairs(self._waiting(), self._queue_now()):
            entries = self._queue_entries
            if entries.get(first.player) != first or entries.get(second.player) != second:
                continue  # one of them left or queued again meanwhile
            try:
                await self.start_game(
                    (first.player, second.player), self.rules[first.rules], first.best_of
                )
            except ProtocolError as exc:  # a seat took another game meanwhile, storage failed
                log.info("pairing %s and %s failed: %s", first.player, second.player, exc)

    def _queue_changed(self) -> None:
        """Time the next pairing the gaps will allow."""
        now = self._waiting()
        if self._queue_timer is not None:
            self._queue_timer.cancel()
            self._queue_timer = None
        at = due(now, self._queue_now())
        if at is None or self.closing:
            return
        delay = max(0.0, (at - self._queue_now()) * self.config.queue_step / GAP_EVERY)
        self._queue_timer = asyncio.get_running_loop().call_later(delay, self._queue_due)

    def _queue_due(self) -> None:
        self._queue_timer = None
        task = asyncio.create_task(self._pair_when_due(), name="queue")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pair_when_due(self) -> None:
        try:
            async with self.feed.section():
                try:
                    await self.pair_waiting()
                finally:
                    self._sync_queue()  # a gap that widened without a pair yet: the next time
        except Exception:
            log.exception("pairing the queue failed")
