"""What the lobby hears of ``GameHub``'s games: a game's start and end, and its summaries between.

A start or an end is told in a change of the lobby (a section of ``hub.feed.LobbyFeed``): the
seats taken or freed, ``game_started`` or ``game_finished`` with the game's summary, and the
players' statuses.  Between them a live game's ``game_updated`` summary goes out at most once a
``summary_interval`` (after a round, or when its count of spectators changed), with no section.
An end the lobby could not hear of (a cluster's Redis down) is told again until it has.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hub.hubstate import HubState
from hub.topics import game_topic
from protocol.errors import ProtocolError
from protocol.game import Game
from protocol.wire import game_json, summary_json

log = logging.getLogger(__name__)

RETRY_FINISH = (0.5, 1, 2, 4, 8, 15, 30, 60, 60, 60)  # seconds between tries to tell the lobby


class GameNews(HubState):
    """``GameHub``'s games as the lobby hears of them."""

    def _announce_start(self, game: Game) -> None:
        """Tell a seated game's start: ``game_started`` to its players' topics (whole) and the
        lobby (its summary), and their statuses (in a section)."""
        full = game_json(game)
        for p in game.humans:
            self._publish(self.feed.player_stream(p), "game_started", full)
        self._publish(self.lobby_stream, "game_started", self._lobby_summary(game))
        self._sync_statuses(game.humans)

    def _lobby_summary(self, game: Game) -> dict[str, Any]:
        """The game's summary for the lobby, with ``spectators``: the connections subscribed to
        its topic here that are not its seats' (remembered, to tell the lobby when it changes)."""
        data = summary_json(game)
        data["spectators"] = count = self._spectators(game)
        if not game.is_over:
            self._spectators_shown[game.id] = count
        return data

    def _spectators(self, game: Game) -> int:
        peers = self.subscriptions.peers(game_topic(game.id))
        return sum(1 for peer in peers if peer.player not in game.players)

    def _watchers_changed(self, game_id: str) -> None:
        """A game topic gained or lost a subscriber: a lobby summary when its count of
        spectators changed (at most one a ``summary_interval``, like a round's).  A cluster
        node does not listen: its summaries show its own spectators, and nodes would
        contradict each other."""
        game, shown = self.table.live.get(game_id), self._spectators_shown.get(game_id)
        if game is None or shown is None or game.is_over:
            return
        if self._spectators(game) != shown:
            self._summarize(game_id)

    def _summarize(self, game_id: str) -> None:
        """The lobby's ``game_updated``: at once unless one went out less than
        ``summary_interval`` ago; then one with the latest score when the interval is up."""
        if game_id in self._summary_due:
            return
        now, last = asyncio.get_running_loop().time(), self._summarized.get(game_id)
        if last is None or now - last >= self.config.summary_interval:
            self._summary_now(game_id)
        else:
            self._summary_due[game_id] = asyncio.get_running_loop().call_at(
                last + self.config.summary_interval, self._summary_now, game_id
            )

    def _summary_now(self, game_id: str) -> None:
        self._summary_due.pop(game_id, None)
        self.feed.game_updated(game_id)

    async def _finished(self, game: Game) -> None:
        """A stored change finished the game: the lobby hears of it.  The move that finished it
        is answered ``ok`` even when the lobby cannot hear of it now (a cluster's Redis down):
        it is told again until it has."""
        try:
            await self.feed.change(lambda: self._finish(game))
        except ProtocolError as exc:
            log.warning("the lobby did not hear that game %s finished (%s); retrying", game.id, exc)
            self._spawn(self._finish_later(game), f"finish {game.id}")

    def _finish(self, game: Game) -> None:
        self._forget(game.id)
        self.metrics.games_finished.labels(game.reason.value if game.reason else "").inc()
        self._unseat(game)

    def _unseat(self, game: Game) -> None:
        """The lobby's part of a game's end (in a section): its seats are free, ``game_finished``
        and the players' statuses are told; nothing when it was told already (on a cluster,
        another node may have found the game finished first: ``hub.cluster.repair``)."""
        if any(self.lobby.live.get(p) == game.id for p in game.humans):
            self.lobby.unseat(game.humans, game.id)
            self._publish(self.lobby_stream, "game_finished", self._lobby_summary(game))
            self._sync_statuses(game.humans)

    async def _finish_later(self, game: Game) -> None:
        for delay in RETRY_FINISH:
            await asyncio.sleep(delay)
            try:
                await self.feed.change(lambda: self._unseat(game))
                return
            except ProtocolError:
                continue
        log.error("the lobby never heard that game %s finished", game.id)

    def _forget(self, game_id: str) -> None:
        """Drop a game's copy here (finished, or not to be trusted any more) and its timers."""
        table = self.table
        table.live.pop(game_id, None)
        table.seqs.pop(game_id, None)
        self._summarized.pop(game_id, None)
        self._spectators_shown.pop(game_id, None)
        held = self._summary_due.pop(game_id, None)
        if held is not None:
            held.cancel()
        handle = table.deadlines.pop(game_id, None)
        if handle is not None:
            handle.cancel()
        self.metrics.games_live.set(len(table.live))
