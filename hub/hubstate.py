"""What ``GameHub`` is built on: its tables, publishing to a topic, and each game's lock.

``HubState`` holds the state every part of the hub shares (the live games and their latest seqs,
presence, the lobby, the published summaries, timers and tasks) and the few steps they all take:
publish a lobby or player event (``_publish``, the one sink; ``_publish_effects`` for what the
lobby's core returned), take a game's lock, and announce what the lobby has not told yet.
``hub.games.Games`` adds the games, ``hub.service.GameHub`` the players and the lobby.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from hub.broker import Broker
from hub.config import Config
from hub.entropy import BufferedSystemRandom
from hub.fanout import Peer, Subscriptions
from hub.feed import LobbyFeed, LocalFeed
from hub.identity import Identity
from hub.metrics import Metrics
from hub.presence import LocalPresence, Presence
from hub.streams import Stream
from protocol.game import Game
from protocol.lobby import Lobby, LobbyEffect
from protocol.lobby_wire import LOBBY, lobby_event
from protocol.pairing import Waiting
from protocol.rules import RuleSet, builtin_rules
from storage.base import Storage

log = logging.getLogger(__name__)


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
        self.closing = False  # stopping: new work is refused
        self.draining = False  # told to stop: /healthz says 503, everything else is still served
        self._games: dict[str, Game] = {}  # live games
        self._seqs: dict[str, int] = {}  # latest seq of each live game's topic
        self._locks: dict[str, _GameLock] = {}
        self._deadlines: dict[str, asyncio.TimerHandle] = {}
        self._peers: dict[str, set[Peer]] = {}  # authenticated peers by player
        self._spectators_shown: dict[str, int] = {}  # the spectators each live game's summary shows
        self._summarized: dict[str, float] = {}  # loop time of each game's last game_updated
        self._summary_due: dict[str, asyncio.TimerHandle] = {}  # a game_updated held back
        self._tasks: set[asyncio.Task[None]] = set()
        self._queue_entries: dict[str, Waiting] = {}  # each queued player's (hub.queue)
        self._queue_timer: asyncio.TimerHandle | None = None  # the next pairing the gaps allow
        self.feed: LobbyFeed = LocalFeed(self)  # type: ignore[arg-type]
        self.lobby_stream = self.feed.lobby_stream
        # Every lobby and player event goes through here (the feed's ``publish``, bound).
        self._publish: Callable[[Stream, str, Any], None] = self.feed.publish

    def _watchers_changed(self, game_id: str) -> None:
        """A game topic gained or lost a subscriber (``hub.games`` tells the lobby)."""

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` in the background (awaited by ``close``); a failure is logged."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.warning("%s failed: %s", task.get_name(), exc, exc_info=exc)

    def now(self) -> int:
        """Unix milliseconds."""
        return int(self.clock() * 1000)

    # -- the lobby feed (``hub.feed``) -----------------------------------------------------

    def player_stream(self, name: str) -> Stream:
        """The stream of ``player:<name>`` (registered spelling)."""
        return self.feed.player_stream(name)

    def lobby_snapshot(self) -> dict[str, Any]:
        """The lobby topic's snapshot: what its events have said so far, never ahead of them."""
        return self.feed.snapshot()

    def _publish_effects(self, effects: Iterable[LobbyEffect]) -> None:
        """Publish the events of what the lobby's core returned, in order."""
        for effect in effects:
            topic, event, data = lobby_event(effect)
            player = topic.partition(":")[2]
            stream = self.lobby_stream if topic == LOBBY else self.feed.player_stream(player)
            self._publish(stream, event, data)

    async def trouble(self) -> str | None:
        """Why the hub cannot serve now (``/healthz`` answers 503 with it); None when it can."""
        if self.closing or self.draining:
            return "the hub is shutting down"
        return None

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
