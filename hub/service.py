"""The game hub: glue between the pure core, storage and fan-out.

Every game action follows one path: take the game's lock, let the core decide (it raises and
changes nothing on a refusal), store the new state together with the game-topic events it
produced in one transaction, then publish those events, then the lobby and player events, and
only then return so the caller replies.  A game's lock also covers a subscriber's catch-up from
storage, so nobody sees a gap or a duplicate between history and live events.

Presence, the lobby (queue, challenges, statuses) and the lobby and player topics live in memory;
games and their topics live in storage and survive a restart, which resumes every live game with
a fresh full deadline (and idle limit) for its open round: time the hub was down never counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from hub.broker import Broker
from hub.config import Config
from hub.fanout import Peer, Stream, Subscriptions
from hub.metrics import Metrics
from protocol.errors import BadMessage, NotFound, Unauthorized
from protocol.game import COMPUTER, Effect, Game, GameOver, RoundPlayed, Status
from protocol.lobby import Challenge, Lobby, PlayerStatus
from protocol.messages import encode_event
from protocol.rules import DEFAULT_RULES, RuleSet, builtin_rules
from protocol.wire import effect_event, game_json, summary_json
from storage.base import PlayerRecord, Storage, StoredEvent

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def hash_token(token: str) -> str:
    """What is stored for a token: its SHA-256 in hex (tokens are 32 random bytes)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_id() -> str:
    """An opaque id for a game, a challenge or a session."""
    return secrets.token_urlsafe(9)


def game_topic(game_id: str) -> str:
    """The topic of a game."""
    return f"game:{game_id}"


def player_topic(name: str) -> str:
    """The private topic of a player (registered spelling)."""
    return f"player:{name}"


class GameHub:
    """Games, presence and the lobby of one hub process."""

    def __init__(
        self,
        config: Config,
        storage: Storage,
        broker: Broker,
        subscriptions: Subscriptions,
        metrics: Metrics,
        *,
        rng: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.storage = storage
        self.broker = broker
        self.subscriptions = subscriptions
        self.metrics = metrics
        self.rules: dict[str, RuleSet] = builtin_rules()
        self.rng = rng if rng is not None else secrets.SystemRandom()
        self.clock = clock
        self.lobby = Lobby()
        self.lobby_stream = Stream("lobby", config.history)
        self.closing = False  # stopping: new work is refused
        self.draining = False  # told to stop: /healthz says 503, everything else is still served
        self._games: dict[str, Game] = {}  # live games
        self._seqs: dict[str, int] = {}  # latest seq of each live game's topic
        self._locks: dict[str, _GameLock] = {}
        self._deadlines: dict[str, asyncio.TimerHandle] = {}
        self._player_streams: dict[str, Stream] = {}
        self._peers: dict[str, set[Peer]] = {}  # authenticated peers by player
        self._leaving: dict[str, asyncio.TimerHandle] = {}
        self._statuses: dict[str, PlayerStatus] = {}  # each active player's last published status
        self._summaries: dict[str, dict[str, Any]] = {}  # each live game's last published summary
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifetime --------------------------------------------------------------------------

    async def resume(self) -> int:
        """Load every stored live game, seat its players, and give its open round a fresh full
        deadline (stored, so the game shows it) from now, before any client can move."""
        games = await self.storage.live_games()
        now = self.now()
        for game in games:
            due = game.due
            game.resume(now=now)
            if game.due != due:
                await self.storage.save_game(game, [])
            self._games[game.id] = game
            self._seqs[game.id] = await self.storage.last_seq(game.id)
            self.lobby.seat(game.humans, game.id)
            self._summaries[game.id] = summary_json(game)
            self._arm_deadline(game)
        self.metrics.games_live.set(len(self._games))
        return len(games)

    async def close(self) -> None:
        """Stop timers and wait for work in flight, so every accepted move is stored."""
        self.closing = True
        for handle in [*self._deadlines.values(), *self._leaving.values()]:
            handle.cancel()
        self._deadlines.clear()
        self._leaving.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for entry in list(self._locks.values()):
            async with entry.lock:
                pass

    def now(self) -> int:
        """Unix milliseconds."""
        return int(self.clock() * 1000)

    # -- identity --------------------------------------------------------------------------

    async def register(self, name: object) -> tuple[PlayerRecord, str]:
        """Register a player; returns the record and its token (shown once)."""
        token = secrets.token_urlsafe(32)
        record = await self.storage.create_player(_name(name), hash_token(token), self.now())
        return record, token

    async def register_tokenless(self, name: object) -> PlayerRecord:
        """Register a player without a token (the legacy API's users: nothing acts for them
        by token, and the legacy routes act for nobody else)."""
        return await self.storage.create_player(_name(name), None, self.now())

    async def authenticate(self, token: object) -> PlayerRecord:
        """The player a token belongs to; ``Unauthorized`` otherwise."""
        if not isinstance(token, str) or not token:
            raise Unauthorized("a valid token is required")
        record = await self.storage.player_by_token(hash_token(token))
        if record is None:
            raise Unauthorized("the token is not valid")
        return record

    def ruleset(self, name: str | None) -> RuleSet:
        """The rule set called ``name`` (the default when None)."""
        found = self.rules.get(name or DEFAULT_RULES)
        if found is None:
            raise BadMessage(f"unknown rules {name!r}; try one of {', '.join(self.rules)}")
        return found

    # -- topics ----------------------------------------------------------------------------

    def player_stream(self, name: str) -> Stream:
        """The stream of ``player:<name>`` (registered spelling), made on first use."""
        stream = self._player_streams.get(name)
        if stream is None:
            stream = self._player_streams[name] = Stream(player_topic(name), self.config.history)
        return stream

    def _publish(self, stream: Stream, event: str, data: Any) -> None:
        payload = stream.append(event, data, self.now())
        if stream is self.lobby_stream and event in ("game_started", "game_updated"):
            self._summaries[data["id"]] = data
        elif stream is self.lobby_stream and event == "game_finished":
            self._summaries.pop(data["id"], None)
        self.metrics.events.labels(stream.topic.partition(":")[0]).inc()
        self.broker.publish(stream.topic, payload)

    def lobby_snapshot(self) -> dict[str, Any]:
        """The lobby topic's snapshot: what its events have said so far, never ahead of them.

        While a change is being stored the lobby and the game already hold its outcome (a seat,
        a score, a finished game), but its events are not out yet; a snapshot built from them
        would not match the events that follow it.
        """
        players = sorted(self._statuses.items(), key=lambda item: item[0].casefold())
        return {
            "players": [{"name": n, "status": s.value} for n, s in players],
            "games": list(self._summaries.values()),
        }

    @asynccontextmanager
    async def lock(self, game_id: str) -> AsyncIterator[None]:
        """Hold the lock that orders every change to (and catch-up of) one game's topic.

        Locks exist only while a game is live or someone holds or awaits its lock, so looking up
        unknown or finished games never grows the table.
        """
        entry = self._locks.get(game_id)
        if entry is None:
            entry = self._locks[game_id] = _GameLock()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if not entry.users and game_id not in self._games:
                del self._locks[game_id]

    def live_seq(self, game_id: str) -> int | None:
        """The latest seq of a live game's topic (None when the game is not live here)."""
        return self._seqs.get(game_id)

    # -- presence --------------------------------------------------------------------------

    def connect(self, peer: Peer, player: str) -> None:
        """An authenticated connection opened; the player becomes (or stays) active."""
        peers = self._peers.setdefault(player, set())
        first = not peers
        peers.add(peer)
        pending_leave = self._leaving.pop(player, None)
        if pending_leave is not None:
            pending_leave.cancel()
        elif first and self.lobby.lookup(player) is None:
            self.lobby.join(player)
            status = self.lobby.status(player)
            self._statuses[player] = status
            self._publish(
                self.lobby_stream, "player_joined", {"name": player, "status": status.value}
            )

    def disconnect(self, peer: Peer) -> None:
        """A connection closed; the player leaves after the grace period if it was the last."""
        self.subscriptions.drop(peer)
        player = peer.player
        if player is None:
            return
        peers = self._peers.get(player)
        if peers is None:
            return
        peers.discard(peer)
        if peers or self.closing:
            return
        del self._peers[player]
        loop = asyncio.get_running_loop()
        self._leaving[player] = loop.call_later(self.config.grace, self._leave, player)

    def _leave(self, player: str) -> None:
        self._leaving.pop(player, None)
        if player in self._peers:
            return
        self._withdraw(self.lobby.leave(player))
        self._statuses.pop(player, None)
        # Forget the player's topic history so memory follows active players, not every player
        # ever seen; a later subscriber gets a new epoch, i.e. a snapshot instead of a replay.
        self._player_streams.pop(player, None)
        self._publish(self.lobby_stream, "player_left", {"name": player})

    def is_active(self, name: str) -> bool:
        """True while the player has a connection or is within the grace period."""
        return self.lobby.lookup(name) is not None

    def _withdraw(self, challenges: list[Challenge]) -> None:
        for c in challenges:
            self._publish(self.player_stream(c.challenged), "challenge_withdrawn", {"id": c.id})

    def _sync_statuses(self, players: tuple[str, ...]) -> None:
        for name in players:
            if self.lobby.lookup(name) is None:
                continue
            status = self.lobby.status(name)
            if self._statuses.get(name) != status:
                self._statuses[name] = status
                self._publish(
                    self.lobby_stream, "player_status", {"name": name, "status": status.value}
                )

    # -- lobby actions ---------------------------------------------------------------------

    async def challenge(self, player: str, opponent: str, best_of: int, rules: str | None) -> str:
        """Challenge an active player; returns the challenge id (the open one if repeated)."""
        ruleset = self.ruleset(rules)
        made, new = self.lobby.challenge(player, opponent, best_of, ruleset.name, new_id())
        if new:
            self._publish(self.player_stream(made.challenged), "challenge", made.to_json())
        return made.id

    async def accept(self, player: str, challenge_id: str) -> Game:
        """Accept a challenge addressed to ``player``; the game starts.

        When the game cannot start (it could not be stored), the accepter gets the error and the
        challenge is open again, unless a seat left meanwhile: then it is withdrawn as on leaving.
        """
        c = self.lobby.take_challenge(challenge_id, player, accepting=True)
        try:
            return await self.start_game(
                (c.challenger, c.challenged), self.rules[c.rules], c.best_of
            )
        except BaseException:
            if not self.lobby.restore(c):
                self._withdraw([c])
            raise

    def decline(self, player: str, challenge_id: str) -> None:
        """Decline a challenge addressed to ``player``."""
        c = self.lobby.take_challenge(challenge_id, player, accepting=False)
        self._publish(
            self.player_stream(c.challenger), "challenge_declined", {"id": c.id, "by": player}
        )

    def cancel(self, player: str) -> None:
        """Leave the queue and withdraw own challenges."""
        self._withdraw(self.lobby.cancel(player))
        self._sync_statuses((player,))

    async def enqueue(self, player: str, best_of: int, rules: str | None) -> Game | None:
        """Queue for a game; returns the game when a waiting player was paired at once."""
        ruleset = self.ruleset(rules)
        partner = self.lobby.enqueue(player, ruleset.name, best_of)
        if partner is None:
            self._sync_statuses((player,))
            return None
        return await self.start_game((partner.player, player), ruleset, best_of)

    # -- games -----------------------------------------------------------------------------

    async def start_game(
        self,
        players: tuple[str, str],
        rules: RuleSet,
        best_of: int,
        *,
        game_id: str | None = None,
        round_seconds: float | None = None,
        idle_seconds: float = 0.0,
    ) -> Game:
        """Start a game: store it, then announce it to the seats, the lobby and its topic."""
        for p in players:
            if p != COMPUTER:
                self.lobby.ensure_free(p)
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
            topic = game_topic(game.id)
            for p in game.humans:
                for peer in self._peers.get(p, ()):
                    self.subscriptions.add(topic, peer)
            full = game_json(game)
            for p in game.humans:
                self._publish(self.player_stream(p), "game_started", full)
            self._publish(self.lobby_stream, "game_started", summary_json(game))
            self._sync_statuses(game.humans)
            self._deliver(game.id, events)
            self._arm_deadline(game)
        return game

    async def game(self, game_id: str) -> Game:
        """A game by id, live or stored; ``NotFound`` otherwise."""
        live = self._games.get(game_id)
        if live is not None:
            return live
        stored = await self.storage.game(game_id)
        if stored is None:
            raise NotFound(f"no game {game_id!r}")
        return stored

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
                self.metrics.moves.labels(transport).inc()
                await self._commit(game, effects)
            return counted, game

    async def resign(self, game_id: str, player: str) -> Game:
        """``player`` resigns the game."""
        async with self.lock(game_id):
            game = await self._current(game_id)
            effects = game.resign(player, now=self.now())
            await self._commit(game, effects)
            return game

    def _events(self, game_id: str, last: int, effects: list[Effect]) -> list[StoredEvent]:
        ts = self.now()
        out = []
        for i, effect in enumerate(effects, start=last + 1):
            name, data = effect_event(effect)
            out.append(StoredEvent(seq=i, ts=ts, event=name, data=data))
        return out

    async def _commit(self, game: Game, effects: list[Effect]) -> None:
        """Store the change, then publish it (the caller holds the game's lock)."""
        events = self._events(game.id, self._seqs.get(game.id, 0), effects)
        try:
            await self.storage.save_game(game, events)
        except BaseException:
            # The core already changed the game in memory: forget it so the next action
            # reloads the stored state instead of building on an unsaved one.
            self._forget(game.id)
            raise
        self._seqs[game.id] = events[-1].seq
        self._deliver(game.id, events)
        if any(isinstance(e, RoundPlayed) for e in effects) and not game.is_over:
            self._publish(self.lobby_stream, "game_updated", summary_json(game))
        if any(isinstance(e, GameOver) for e in effects):
            self._finish(game)
        else:
            self._arm_deadline(game)

    def _deliver(self, game_id: str, events: list[StoredEvent]) -> None:
        topic = game_topic(game_id)
        for e in events:
            self.metrics.events.labels("game").inc()
            self.broker.publish(topic, event_payload(topic, e))

    def _finish(self, game: Game) -> None:
        self._forget(game.id)
        self.lobby.unseat(game.humans, game.id)
        self.metrics.games_finished.labels(game.reason.value if game.reason else "").inc()
        self._publish(self.lobby_stream, "game_finished", summary_json(game))
        self._sync_statuses(game.humans)

    def _forget(self, game_id: str) -> None:
        self._games.pop(game_id, None)
        self._seqs.pop(game_id, None)
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


def _name(name: object) -> str:
    """A valid player name; ``BadMessage`` otherwise."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise BadMessage("field 'name' must be 1-32 characters of A-Z a-z 0-9 _ -")
    return name


class _GameLock:
    """A game's lock and how many tasks hold or await it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


def event_payload(topic: str, event: StoredEvent) -> bytes:
    """The payload of a stored game-topic event (the same bytes live and on replay)."""
    return encode_event(topic, event.seq, event.ts, event.event, event.data)
