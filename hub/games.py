"""The games of ``GameHub``: start, moves, resignations, and a finished game told to the lobby.

Every game action follows one path, the same on one node and on many: take the game's lock
(``hub.table.GameTable``), ask the games part (``hub.livegames.LiveGames``) for the copy to
change, let the core decide (it raises and changes nothing on a refusal), store the new state
together with the game-topic events it produced in one transaction, then deliver those events,
then the lobby and player events, and only then return so the caller replies.  On a cluster node
another node may have stored a change first (``StaleGame``) or the copy may be stale: the action
is tried again on the stored game, ``attempts`` times at most (once in one process).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hub.entropy import token_urlsafe
from hub.fanout import Peer
from hub.hubstate import HubState, new_game_id
from hub.rating import ATTEMPTS, is_rated, rate
from hub.topics import game_topic
from protocol.errors import ProtocolError
from protocol.game import COMPUTER, Effect, Game, GameOver, RoundPlayed
from protocol.messages import encode_data
from protocol.reader import DEFAULT_LEVEL
from protocol.rules import RuleSet
from protocol.wire import effect_event_text, game_json, summary_json
from storage.base import StaleGame, StaleRating, StoredEvent

log = logging.getLogger(__name__)

RETRY_FINISH = (0.5, 1, 2, 4, 8, 15, 30, 60, 60, 60)  # seconds between tries to tell the lobby


class GameActions(HubState):
    """``GameHub``'s games: the same code on one node and on many."""

    async def resume(self) -> int:
        """At start: the games part takes over the stored live games (``LiveGames.resume``)."""
        return await self.games.resume()

    async def start_game(
        self,
        players: tuple[str, str],
        rules: RuleSet,
        best_of: int,
        *,
        game_id: str | None = None,
        round_seconds: float | None = None,
        idle_seconds: float = 0.0,
        level: str = DEFAULT_LEVEL,
    ) -> Game:
        """Start a game: store it, then announce it to the seats, the lobby and its topic.
        A ``reader`` computer reads the player's rounds against it, loaded once here."""
        async with self.feed.section():
            return await self._start_game(
                players, rules, best_of, game_id, round_seconds, idle_seconds, level
            )

    async def _start_game(
        self,
        players: tuple[str, str],
        rules: RuleSet,
        best_of: int,
        game_id: str | None,
        round_seconds: float | None,
        idle_seconds: float,
        level: str,
    ) -> Game:
        for p in players:
            if p != COMPUTER:
                self.lobby.ensure_free(p)
        history = []
        if level != DEFAULT_LEVEL and players[1] == COMPUTER:
            history = await self.storage.computer_rounds(players[0], rules.name)
            self.lobby.ensure_free(players[0])  # still free after the read
        seconds = self.config.round_deadline if round_seconds is None else round_seconds
        game, effects = Game.start(
            id=game_id or new_game_id(self.now()),
            rules=rules,
            best_of=best_of,
            players=players,
            now=self.now(),
            rng=self.rng,
            epoch=token_urlsafe(8),
            round_seconds=seconds,
            idle_seconds=idle_seconds,
            level=level,
            history=history,
        )
        self.lobby.seat(game.humans, game.id)
        table = self.table
        async with table.lock(game.id):
            events = self._events(game.id, 0, effects)
            try:
                await self.storage.create_game(game, events)
            except BaseException:
                self.lobby.unseat(game.humans, game.id)
                raise
            table.live[game.id] = game
            table.seqs[game.id] = events[-1].seq
            self.metrics.games_started.labels(
                "computer" if game.against_computer else "player"
            ).inc()
            self.metrics.games_live.set(len(table.live))
            self._seat_peers(game)
            self._announce_start(game)
            await self.games.deliver(game, events)
            table.arm(game)
        return game

    def _announce_start(self, game: Game) -> None:
        """Tell a seated game's start: ``game_started`` to its players' topics (whole) and the
        lobby (its summary), and their statuses (in a section)."""
        full = game_json(game)
        for p in game.humans:
            self._publish(self.feed.player_stream(p), "game_started", full)
        self._publish(self.lobby_stream, "game_started", self._lobby_summary(game))
        self._sync_statuses(game.humans)

    def _seat_peers(self, game: Game) -> None:
        """Subscribe the seats' connections to a new game's topic (from its first event)."""
        topic = game_topic(game.id)
        for p in game.humans:
            for peer in self._peers.get(p, ()):
                self.subscriptions.add(topic, peer)

    async def game(self, game_id: str) -> Game:
        """A game by id, live or stored, as committed; ``NotFound`` otherwise."""
        return await self.games.game(game_id)

    async def game_view(self, game_id: str) -> dict[str, Any]:
        """A game's JSON as stored and announced, never showing a change still being saved."""
        return await self.games.view(game_id)

    async def follow_game(
        self, peer: Peer, game_id: str, since: int | None, epoch: str | None
    ) -> tuple[Game, int, list[bytes] | None]:
        """Subscribe ``peer`` to a game's topic: the game as of the returned seq, and the frames
        it missed after ``since`` (None: it gets the game as a snapshot instead), with nothing
        in a gap or twice (``LiveGames.follow``)."""
        return await self.games.follow(peer, game_id, since, epoch)

    async def seat_game(self, peer: Peer, player: str) -> tuple[str, int, str] | None:
        """Subscribe a player's new connection to the game they play, if any: its topic, seq
        and epoch."""
        return await self.games.seat(peer, player)

    async def move(
        self, game_id: str, player: str, roll: str, round: int | None, *, transport: str
    ) -> tuple[int, Game]:
        """Take a move; returns the round it counted for and the game as it stands."""
        games, table = self.games, self.table
        for attempt in range(games.attempts):
            async with table.lock(game_id):
                # A live copy on a first attempt is the current one (``LiveGames.current``):
                # taken without a coroutine, as every move on one node does.
                game = table.live.get(game_id) if not attempt else None
                cached = game is not None
                if game is None:
                    game = await games.current(game_id, attempt)
                try:
                    counted, effects = game.move(player, roll, round, now=self.now(), rng=self.rng)
                except ProtocolError:
                    if cached and games.attempts > 1:
                        continue  # maybe a stale copy: ask the stored game
                    raise
                if effects:
                    self.metrics.moves[transport] += 1
                    try:
                        await self._commit(game, effects)
                    except StaleGame:
                        if games.attempts > 1:
                            continue  # another node stored a change first
                        raise
                return counted, game
        raise games.kept_changing(game_id)

    async def resign(self, game_id: str, player: str) -> Game:
        """``player`` resigns the game."""
        games, table = self.games, self.table
        for attempt in range(games.attempts):
            async with table.lock(game_id):
                cached = not attempt and game_id in table.live
                game = await games.current(game_id, attempt)
                try:
                    effects = game.resign(player, now=self.now())
                except ProtocolError:
                    if cached and games.attempts > 1:
                        continue
                    raise
                try:
                    await self._commit(game, effects)
                except StaleGame:
                    if games.attempts > 1:
                        continue
                    raise
                return game
        raise games.kept_changing(game_id)

    def _events(
        self, game_id: str, last: int, effects: list[Effect], rated: Game | None = None
    ) -> list[StoredEvent]:
        ts = self.now()
        out = []
        for i, effect in enumerate(effects, start=last + 1):
            name, data, text = effect_event_text(effect)
            if rated is not None and name == "game_over":
                data["rating_change"] = rated.rating_change
                text = encode_data(data)
            # The text given, not left to its factory: one Python call less per event; and
            # positional arguments (attrs' __init__ called with keywords is given a dict of them).
            out.append(StoredEvent(i, ts, name, data, text))
        return out

    async def _commit(self, game: Game, effects: list[Effect]) -> None:
        """Store the change, then publish it (the caller holds the game's lock)."""
        table = self.table
        try:
            if is_rated(game):  # only the change that finished a game between humans
                events = await self._save_rated(game, effects)
            else:
                events = self._events(game.id, table.seqs.get(game.id, 0), effects)
                await self.storage.save_game(game, events)
        except BaseException:
            # The core already changed the game in memory: forget it so the next action
            # reloads the stored state instead of building on an unsaved one.
            self._forget(game.id)
            raise
        table.seqs[game.id] = events[-1].seq
        await self.games.deliver(game, events)
        played = over = False
        for e in effects:  # no generators: two Python calls less per move
            if isinstance(e, RoundPlayed):
                played = True
            elif isinstance(e, GameOver):
                over = True
        if played and not over:  # not game.is_over: a change that finished it is a GameOver
            self._summarize(game.id)
        if over:
            await self._finished(game)
        else:
            table.arm(game)

    async def _save_rated(self, game: Game, effects: list[Effect]) -> list[StoredEvent]:
        """Rate a finished game and save it with the new ratings (``hub.rating``); returns its
        events, ``game_over`` with the ``rating_change``."""
        for attempt in range(1, ATTEMPTS + 1):
            ratings = await rate(self.storage, game)
            events = self._events(game.id, self.table.seqs.get(game.id, 0), effects, game)
            try:
                await self.storage.save_game(game, events, ratings)
                return events
            except StaleRating:
                if attempt == ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

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
            async with self.feed.section():
                self._finish(game)
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
                async with self.feed.section():
                    self._unseat(game)
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
