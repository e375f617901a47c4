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

import logging
from typing import Any

from hub.entropy import token_urlsafe
from hub.fanout import Peer
from hub.gamenews import GameNews
from hub.hubstate import new_game_id
from hub.rating import ATTEMPTS, is_rated, rate
from hub.topics import game_topic
from protocol.errors import ProtocolError
from protocol.game import COMPUTER, Effect, Game, GameOver, RoundPlayed
from protocol.messages import encode_data
from protocol.reader import DEFAULT_LEVEL, Seen
from protocol.rules import RuleSet
from protocol.wire import effect_event_text
from storage.base import StaleGame, StaleRating, StoredEvent

log = logging.getLogger(__name__)


class GameActions(GameNews):
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
        A ``reader`` computer reads the player's rounds against it, loaded once here.

        Where the store decides the seats (``LiveGames.stored_seats``: a cluster), a game against
        the computer is stored before the lobby's change that tells it, so that its write holds
        no other change of the lobby up; between humans the lobby decides (a challenge, the
        queue) and the game is stored inside its change."""
        if players[1] == COMPUTER and self.games.stored_seats:
            history = await self._history(players, rules, level)
            game, effects = self._new_game(
                players, rules, best_of, game_id, round_seconds, idle_seconds, level, history
            )
            return await self._start_stored(game, effects)
        humans = [p for p in players if p != COMPUTER]
        async with self.feed.section():
            for p in humans:
                self.lobby.ensure_free(p)
            history = await self._history(players, rules, level)
            for p in humans:  # still free after the read
                self.lobby.ensure_free(p)
            game, effects = self._new_game(
                players, rules, best_of, game_id, round_seconds, idle_seconds, level, history
            )
            self.lobby.seat(game.humans, game.id)
            async with self.table.lock(game.id):
                events = self._events(game.id, 0, effects)
                try:
                    await self.storage.create_game(game, events)
                except BaseException:
                    self.lobby.unseat(game.humans, game.id)
                    raise
                self._started(game, events)
                self._announce_start(game)
                await self._go(game, events)
            return game

    async def _start_stored(self, game: Game, effects: list[Effect]) -> Game:
        """A game against the computer whose seat the store decides (``SeatTaken``: conflict,
        nothing stored), told to the lobby after.  When that change fails (Redis down), the
        game is the player's all the same, and the lobby hears of it from ``hub.cluster.repair``
        within seconds."""
        async with self.table.lock(game.id):
            events = self._events(game.id, 0, effects)
            await self.storage.create_game(game, events)
            self._started(game, events)
            try:
                if not await self.feed.change(lambda: self._seat_stored(game)):
                    async with self.feed.section():  # its player's last game ended unheard of
                        await self._seat_stored_after(game)
            except ProtocolError as exc:
                log.warning("the lobby did not hear that game %s started (%s)", game.id, exc)
            await self._go(game, events)  # after the lobby's game_started
        return game

    def _seat_stored(self, game: Game) -> bool:
        """The lobby's part of a stored start (in a change): its seat, ``game_started`` and the
        statuses; nothing when a repair told it already.  False, with nothing changed, when the
        lobby still seats its player in another game (``_seat_stored_after``)."""
        for p in game.humans:
            held = self.lobby.live.get(p)
            if held == game.id:
                return True  # told (``hub.cluster.repair`` found it stored first)
            if held is not None:
                return False
        self.lobby.seat(game.humans, game.id)
        self._announce_start(game)
        return True

    async def _seat_stored_after(self, game: Game) -> None:
        """The same (in a section), once the game the lobby still seats the player in is read:
        it has ended, since the store gave the seat, and its end is told first."""
        for p in game.humans:
            held = self.lobby.live.get(p)
            if held is not None and held != game.id:
                ended = await self.storage.game(held)
                if ended is not None and ended.is_over:
                    self._unseat(ended)
                else:  # not stored at all (the lobby astray): the store seats the player here
                    self.lobby.unseat((p,), held)
        self._seat_stored(game)

    async def _history(self, players: tuple[str, str], rules: RuleSet, level: str) -> list[Seen]:
        """The player's rounds against the computer, for a ``reader`` computer."""
        if level != DEFAULT_LEVEL and players[1] == COMPUTER:
            return await self.storage.computer_rounds(players[0], rules.name)
        return []

    def _new_game(
        self,
        players: tuple[str, str],
        rules: RuleSet,
        best_of: int,
        game_id: str | None,
        round_seconds: float | None,
        idle_seconds: float,
        level: str,
        history: list[Seen],
    ) -> tuple[Game, list[Effect]]:
        seconds = self.config.round_deadline if round_seconds is None else round_seconds
        return Game.start(
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

    def _started(self, game: Game, events: list[StoredEvent]) -> None:
        """A stored new game is this process's: its copy, its seats' connections subscribed."""
        table = self.table
        table.live[game.id] = game
        table.seqs[game.id] = events[-1].seq
        self.metrics.games_started.labels("computer" if game.against_computer else "player").inc()
        self.metrics.games_live.set(len(table.live))
        self._seat_peers(game)

    async def _go(self, game: Game, events: list[StoredEvent]) -> None:
        """A new game's first events out, and its first round's deadline armed."""
        await self.games.deliver(game, events)
        self.table.arm(game)

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
