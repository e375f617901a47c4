"""What ``GameHub`` is built on: its tables, publishing to a topic, and each game's lock.

``HubState`` holds the state every part of the hub shares (the live games and their latest seqs,
presence, the lobby, the published summaries, timers and tasks) and the few steps they all take:
publish a lobby or player event (``_publish``, the one sink; ``_publish_effects`` for what the
lobby's core returned), take a game's lock, and announce what the lobby has not told yet.
``hub.games.Games`` adds the games, ``hub.service.GameHub`` the players and the lobby.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from hub.broker import Broker
from hub.config import Config
from hub.entropy import BufferedSystemRandom
from hub.fanout import Peer, Subscriptions
from hub.identity import Identity
from hub.metrics import Metrics
from hub.presence import LocalPresence, Presence
from hub.streams import Stream
from hub.topics import player_topic
from protocol.game import Game
from protocol.lobby import Lobby, LobbyEffect
from protocol.lobby_wire import LOBBY, lobby_event
from protocol.pairing import Waiting, summary
from protocol.rules import RuleSet, builtin_rules
from storage.base import Storage


def new_id() -> str:
    """An opaque id for a game, a challenge or a session."""
    return secrets.token_urlsafe(9)


class HubState:
    """The state of one hub process and the steps every part of it takes."""

    node: str | None = None  # a cluster node's id (``/healthz`` says it); None in one process

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
        subscriptions.on_game_change = self._watchers_changed
        self.metrics = metrics
        self.rules: dict[str, RuleSet] = builtin_rules()
        self.rng = rng if rng is not None else BufferedSystemRandom()
        self.clock = clock
        self.identity = Identity(storage, self.now)
        self.presence: Presence = LocalPresence(self)  # type: ignore[arg-type]
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
        self._summaries: dict[str, dict[str, Any]] = {}  # each live game's last published summary
        self._spectators_shown: dict[str, int] = {}  # the spectators each live game's summary shows
        self._summarized: dict[str, float] = {}  # loop time of each game's last game_updated
        self._summary_due: dict[str, asyncio.TimerHandle] = {}  # a game_updated held back
        self._tasks: set[asyncio.Task[None]] = set()
        self._queue_entries: dict[str, Waiting] = {}  # each queued player's (hub.queue)
        self._queue_timer: asyncio.TimerHandle | None = None  # the next pairing the gaps allow

    def _watchers_changed(self, game_id: str) -> None:
        """A game topic gained or lost a subscriber (``hub.games`` tells the lobby)."""

    def now(self) -> int:
        """Unix milliseconds."""
        return int(self.clock() * 1000)

    # -- topics ----------------------------------------------------------------------------

    def player_stream(self, name: str) -> Stream:
        """The stream of ``player:<name>`` (registered spelling), made on first use."""
        stream = self._player_streams.get(name)
        if stream is None:
            stream = self._player_streams[name] = Stream(player_topic(name), self.config.history)
        return stream

    def _publish(self, stream: Stream, event: str, data: Any) -> None:
        """Publish one lobby or player event: every one goes through here."""
        payload = stream.append(event, data, self.now())
        if stream is self.lobby_stream and event in ("game_started", "game_updated"):
            self._summaries[data["id"]] = data
        elif stream is self.lobby_stream and event == "game_finished":
            self._summaries.pop(data["id"], None)
        self.metrics.events[stream.topic.partition(":")[0]] += 1
        self.broker.publish(stream.topic, payload)

    def _publish_effects(self, effects: Iterable[LobbyEffect]) -> None:
        """Publish the events of what the lobby's core returned, in order."""
        for effect in effects:
            topic, event, data = lobby_event(effect)
            player = topic.partition(":")[2]
            stream = self.lobby_stream if topic == LOBBY else self.player_stream(player)
            self._publish(stream, event, data)

    def lobby_snapshot(self) -> dict[str, Any]:
        """The lobby topic's snapshot: what its events have said so far, never ahead of them.

        While a change is being stored the lobby and the game already hold its outcome (a seat,
        a score, a finished game), but its events are not out yet; a snapshot built from them
        would not match the events that follow it.
        """
        players = sorted(self.lobby.announced.items(), key=lambda item: item[0].casefold())
        return {
            "players": [{"name": n, "status": s.value} for n, s in players],
            "games": list(self._summaries.values()),
            "queue": [pool.to_json() for pool in summary(self.lobby.announced_queue)],
        }

    async def trouble(self) -> str | None:
        """Why the hub cannot serve now (``/healthz`` answers 503 with it); None when it can."""
        if self.closing or self.draining:
            return "the hub is shutting down"
        return None

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        """A change of the lobby (presence, queue, challenges, seats, statuses) and the lobby
        and player events it publishes, as one step.  In one process the lobby lives here and
        every step runs on the event loop between awaits, so there is nothing to take or store;
        a cluster node takes the hub's lobby lock and loads and stores the lobby around it."""
        yield

    def _sync_statuses(self, players: tuple[str, ...]) -> None:
        """A change of the lobby is complete: publish the changed statuses of ``players``, then
        the queue's changed pools (the core tells which: ``Lobby.announce``)."""
        self._publish_effects(self.lobby.announce(players))
        self._queue_changed()

    def _sync_queue(self) -> None:
        """Publish the queue's changed pools."""
        self._sync_statuses(())

    def _queue_changed(self) -> None:
        """Time the next pairing (``hub.queue.FairQueue`` does; nothing here)."""

    # -- locks -----------------------------------------------------------------------------

    def lock(self, game_id: str) -> _GameLock:
        """Hold the lock that orders every change to (and catch-up of) one game's topic:
        ``async with hub.lock(game_id):``, nothing else (its user is counted from this call).

        Locks exist only while a game is live or someone holds or awaits its lock, so looking up
        unknown or finished games never grows the table.
        """
        entry = self._locks.get(game_id)
        if entry is None:
            entry = self._locks[game_id] = _GameLock(self, game_id)
        entry.users += 1
        return entry

    def live_seq(self, game_id: str) -> int | None:
        """The latest seq of a live game's topic (None when the game is not live here)."""
        return self._seqs.get(game_id)


class _GameLock:
    """A game's lock and how many tasks hold or await it; ``async with`` it (a class, not an
    ``asynccontextmanager``, whose generator costs a dozen Python calls on every move)."""

    __slots__ = ("_game_id", "_state", "lock", "users")

    def __init__(self, state: HubState, game_id: str) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
        self._state = state
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
        if not self.users and self._game_id not in self._state._games:
            del self._state._locks[self._game_id]
