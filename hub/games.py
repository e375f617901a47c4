"""The games of ``GameHub``: start, moves, resignations, deadlines, and resuming after a restart.

Every game action follows one path: take the game's lock, let the core decide (it raises and
changes nothing on a refusal), store the new state together with the game-topic events it
produced in one transaction, then publish those events, then the lobby and player events, and
only then return so the caller replies.  Games and their topics live in storage and survive a
restart, which resumes every live game with a fresh full deadline (and idle limit) for its open
round: time the hub was down never counts.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from hub.fanout import Peer
from hub.hubstate import HubState, new_id
from hub.rating import ATTEMPTS, is_rated, rate
from hub.streams import replay_from
from hub.topics import event_payload, game_topic
from protocol.errors import NotFound
from protocol.game import COMPUTER, Effect, Game, GameOver, RoundPlayed, Status
from protocol.reader import DEFAULT_LEVEL
from protocol.rules import RuleSet
from protocol.wire import effect_event, game_json, summary_json
from storage.base import StaleRating, StoredEvent

log = logging.getLogger(__name__)


class Games(HubState):
    """The live and stored games of one hub process, and the timers of their open rounds."""

    async def resume(self) -> int:
        """Load every stored live game, seat its players, and give its open round a fresh full
        deadline (stored, so the game shows it) from now, before any client can move."""
        games = await self.storage.live_games()
        now = self.now()
        for game in games:
            await self._read_history(game)
            due = game.due
            game.resume(now=now)
            if game.due != due:
                await self.storage.save_game(game, [])
            self._games[game.id] = game
            self._seqs[game.id] = await self.storage.last_seq(game.id)
            self.lobby.seat(game.humans, game.id)
            self.feed.restore_summary(self._lobby_summary(game))
            self._arm_deadline(game)
        self.metrics.games_live.set(len(self._games))
        return len(games)

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
            id=game_id or new_id(),
            rules=rules,
            best_of=best_of,
            players=players,
            now=self.now(),
            rng=self.rng,
            epoch=secrets.token_urlsafe(8),
            round_seconds=seconds,
            idle_seconds=idle_seconds,
            level=level,
            history=history,
        )
        self.lobby.seat(game.humans, game.id)
        async with self.lock(game.id):
            events = self._events(game.id, 0, effects)
            try:
                await self.storage.create_game(game, events)
            except BaseException:
                self.lobby.unseat(game.humans, game.id)
                raise
            self._games[game.id] = game
            self._seqs[game.id] = events[-1].seq
            self.metrics.games_started.labels(
                "computer" if game.against_computer else "player"
            ).inc()
            self.metrics.games_live.set(len(self._games))
            self._seat_peers(game)
            full = game_json(game)
            for p in game.humans:
                self._publish(self.feed.player_stream(p), "game_started", full)
            self._publish(self.lobby_stream, "game_started", self._lobby_summary(game))
            self._sync_statuses(game.humans)
            await self._deliver(game, events)
            self._arm_deadline(game)
        return game

    def _seat_peers(self, game: Game) -> None:
        """Subscribe the seats' connections to a new game's topic (from its first event)."""
        topic = game_topic(game.id)
        for p in game.humans:
            for peer in self._peers.get(p, ()):
                self.subscriptions.add(topic, peer)

    async def _read_history(self, game: Game) -> None:
        """Give a stored live ``reader`` game the player's rounds before it (after a restart)."""
        if game.level != DEFAULT_LEVEL and game.against_computer:
            before = await self.storage.computer_rounds(
                game.players[0], game.rules.name, before=game.id
            )
            game.history = before

    async def game(self, game_id: str) -> Game:
        """A game by id, live or stored; ``NotFound`` otherwise."""
        live = self._games.get(game_id)
        if live is not None:
            return live
        stored = await self.storage.game(game_id)
        if stored is None:
            raise NotFound(f"no game {game_id!r}")
        return stored

    async def follow_game(
        self, peer: Peer, game_id: str, since: int | None, epoch: str | None
    ) -> tuple[Game, int, list[bytes] | None]:
        """Subscribe ``peer`` to a game's topic: the game as of the returned seq, and the frames
        it missed after ``since`` (None: it gets the game as a snapshot instead).  The game's
        lock orders this against its changes, so nothing falls in a gap or comes twice."""
        async with self.lock(game_id):
            game = await self.game(game_id)
            seq = self.live_seq(game_id)
            if seq is None:
                seq = await self.storage.last_seq(game_id)
            topic = game_topic(game_id)
            missed = None
            if since is not None and epoch == game.epoch and since <= seq:
                replay = replay_from(peer.topics.get(topic), since, seq)
                if replay:
                    events = await self.storage.events(game_id, since)
                    missed = [event_payload(topic, e) for e in events]
                elif replay is not None:
                    missed = []
            start = since if missed is not None and since is not None else seq
            self.subscriptions.add(topic, peer, start)
            return game, seq, missed

    async def seat_game(self, peer: Peer, player: str) -> tuple[str, int, str] | None:
        """Subscribe a player's new connection to the game they play, if any: its topic, seq
        and epoch (read and subscribed with no await in between, so no event falls in a gap)."""
        live = self.lobby.live.get(player)
        if live is None:
            return None
        game = await self.game(live)
        seq = self.live_seq(live)
        if seq is None:
            return None
        self.subscriptions.add(game_topic(live), peer, seq)
        return game_topic(live), seq, game.epoch

    async def game_view(self, game_id: str) -> dict[str, Any]:
        """A game's JSON as stored and announced, never showing a change still being saved."""
        if game_id not in self._games:
            return game_json(await self.game(game_id))  # stored state, committed
        async with self.lock(game_id):
            return game_json(await self.game(game_id))

    async def _current(self, game_id: str) -> Game:
        """The game to change; a live game dropped after a failed save is reloaded."""
        game = await self.game(game_id)
        if game.status is Status.PLAYING and game_id not in self._games:
            await self._read_history(game)
            self._games[game_id] = game
            self._seqs[game_id] = await self.storage.last_seq(game_id)
            self.lobby.seat(game.humans, game_id)
            self._arm_deadline(game)
            self.metrics.games_live.set(len(self._games))
        return game

    async def move(
        self, game_id: str, player: str, roll: str, round: int | None, *, transport: str
    ) -> tuple[int, Game]:
        """Take a move; returns the round it counted for and the game as it stands."""
        async with self.lock(game_id):
            game = await self._current(game_id)
            counted, effects = game.move(player, roll, round, now=self.now(), rng=self.rng)
            if effects:
                self.metrics.moves[transport] += 1
                await self._commit(game, effects)
            return counted, game

    async def resign(self, game_id: str, player: str) -> Game:
        """``player`` resigns the game."""
        async with self.lock(game_id):
            game = await self._current(game_id)
            effects = game.resign(player, now=self.now())
            await self._commit(game, effects)
            return game

    def _events(
        self, game_id: str, last: int, effects: list[Effect], rated: Game | None = None
    ) -> list[StoredEvent]:
        ts = self.now()
        out = []
        for i, effect in enumerate(effects, start=last + 1):
            name, data = effect_event(effect)
            if rated is not None and name == "game_over":
                data["rating_change"] = rated.rating_change
            out.append(StoredEvent(seq=i, ts=ts, event=name, data=data))
        return out

    async def _commit(self, game: Game, effects: list[Effect]) -> None:
        """Store the change, then publish it (the caller holds the game's lock)."""
        try:
            if is_rated(game):  # only the change that finished a game between humans
                events = await self._save_rated(game, effects)
            else:
                events = self._events(game.id, self._seqs.get(game.id, 0), effects)
                await self.storage.save_game(game, events)
        except BaseException:
            # The core already changed the game in memory: forget it so the next action
            # reloads the stored state instead of building on an unsaved one.
            self._forget(game.id)
            raise
        self._seqs[game.id] = events[-1].seq
        await self._deliver(game, events)
        if any(isinstance(e, RoundPlayed) for e in effects) and not game.is_over:
            self._summarize(game.id)
        if any(isinstance(e, GameOver) for e in effects):
            await self._finished(game)
        else:
            self._arm_deadline(game)

    async def _save_rated(self, game: Game, effects: list[Effect]) -> list[StoredEvent]:
        """Rate a finished game and save it with the new ratings (``hub.rating``); returns its
        events, ``game_over`` with the ``rating_change``."""
        for attempt in range(1, ATTEMPTS + 1):
            ratings = await rate(self.storage, game)
            events = self._events(game.id, self._seqs.get(game.id, 0), effects, game)
            try:
                await self.storage.save_game(game, events, ratings)
                return events
            except StaleRating:
                if attempt == ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def _deliver(self, game: Game, events: list[StoredEvent]) -> None:
        """Publish a game's stored events on its topic (a cluster node also hands them on)."""
        topic = game_topic(game.id)
        self.metrics.events["game"] += len(events)
        for e in events:
            self.broker.publish(topic, event_payload(topic, e))

    def _lobby_summary(self, game: Game) -> dict[str, Any]:
        """The game's summary for the lobby, with ``spectators``: the connections subscribed to
        its topic that are not its seats' (remembered, to tell the lobby when it changes)."""
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
        spectators changed (at most one a ``summary_interval``, like a round's)."""
        game, shown = self._games.get(game_id), self._spectators_shown.get(game_id)
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
        """A stored change finished the game: the lobby hears of it."""
        async with self.feed.section():
            self._finish(game)

    def _finish(self, game: Game) -> None:
        self._forget(game.id)
        self.lobby.unseat(game.humans, game.id)
        self.metrics.games_finished.labels(game.reason.value if game.reason else "").inc()
        self._publish(self.lobby_stream, "game_finished", self._lobby_summary(game))
        self._sync_statuses(game.humans)

    def _forget(self, game_id: str) -> None:
        self._games.pop(game_id, None)
        self._seqs.pop(game_id, None)
        self._summarized.pop(game_id, None)
        self._spectators_shown.pop(game_id, None)
        held = self._summary_due.pop(game_id, None)
        if held is not None:
            held.cancel()
        handle = self._deadlines.pop(game_id, None)
        if handle is not None:
            handle.cancel()
        self.metrics.games_live.set(len(self._games))

    # -- deadlines -------------------------------------------------------------------------

    def _arm_deadline(self, game: Game) -> None:
        handle = self._deadlines.pop(game.id, None)
        if handle is not None:
            handle.cancel()
        due = game.due
        if due is None or game.is_over or self.closing:
            return
        delay = max(0.0, (due - self.now()) / 1000)
        loop = asyncio.get_running_loop()
        self._deadlines[game.id] = loop.call_later(delay, self._deadline_due, game.id, game.round)

    def _deadline_due(self, game_id: str, round: int) -> None:
        self._deadlines.pop(game_id, None)
        task = asyncio.create_task(self._expire(game_id, round), name=f"deadline-{game_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expire(self, game_id: str, round: int) -> None:
        try:
            async with self.lock(game_id):
                game = self._games.get(game_id)
                if game is None:
                    return
                now, due = self.now(), game.due
                if due is not None and now < due and game.round == round:
                    self._arm_deadline(game)  # fired early (clock skew, or a move pushed it on)
                    return
                effects = game.expire(round, now=max(now, due or now), rng=self.rng)
                if effects:
                    await self._commit(game, effects)
        except Exception:
            log.exception("deadline of game %s round %s failed", game_id, round)
