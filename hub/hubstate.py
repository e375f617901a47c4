"""What ``GameHub`` is built on: its parts, the state they share, and the steps they all take.

``HubState`` builds the hub from its parts, each behind one small interface with an in-process
implementation and a cluster one (``docs/cluster.md``, the architecture):

- ``identity`` (``hub.identity.Identity``): players and tokens, in storage (one for both);
- ``presence`` (``hub.presence.Presence``): who is active;
- ``feed`` (``hub.feed.LobbyFeed``): changes of the lobby and the lobby and player topics;
- ``games`` (``hub.livegames.LiveGames``): the current copy of a game, its events' way out, its
  deadlines, following its topic; ``table`` (``hub.table.GameTable``) holds the games' copies,
  seqs, locks and deadline timers here.

It holds the lobby (``protocol.lobby.Lobby``; a cluster node's feed loads it for each change),
this process's connections, the summaries' timing, the queue's entries and background tasks, and
the steps every part takes: publish what the lobby's core returned (``_publish_effects``) and
announce what the lobby has not told yet (``_sync_statuses``).  ``hub.gamenews.GameNews`` adds
what the lobby hears of the games, ``hub.games.GameActions`` the games,
``hub.queue.FairQueue`` the queue, ``hub.service.GameHub`` players and the lobby.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, cast

from hub.broker import Broker
from hub.config import Config
from hub.entropy import BufferedSystemRandom, sortable_id, token_urlsafe
from hub.fanout import Peer, Subscriptions
from hub.feed import LobbyFeed, LocalFeed
from hub.identity import Identity
from hub.livegames import LiveGames, LocalGames
from hub.metrics import Metrics
from hub.presence import LocalPresence, Presence
from hub.streams import Stream
from hub.table import GameTable
from protocol.lobby import Lobby, LobbyEffect
from protocol.lobby_wire import LOBBY, lobby_event
from protocol.pairing import Waiting
from protocol.rules import RuleSet, builtin_rules
from storage.base import Storage

if TYPE_CHECKING:
    from hub.service import GameHub

log = logging.getLogger(__name__)


def new_id() -> str:
    """An opaque id for a challenge (12 random URL-safe characters)."""
    return token_urlsafe(9)


def new_game_id(ms: int) -> str:
    """An opaque id for a game started at Unix milliseconds ``ms``, sorting after the ids of
    games started in earlier milliseconds (``hub.entropy.sortable_id``, 16 URL-safe characters):
    a store's indexes keyed by game get a batch's rows of the live games on a few pages at their
    end, not on a page of each game's anywhere in them."""
    return sortable_id(ms)


class HubState:
    """The state of one hub process, the parts it is built from, and the steps every part of it
    takes."""

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
        presence: Presence | None = None,
        feed: LobbyFeed | None = None,
        games: LiveGames | None = None,
        node: str | None = None,
        health: Callable[[], str | None] | None = None,
    ) -> None:
        """The in-process parts unless others are given (a cluster node's: ``hub.cluster``);
        ``node`` names a cluster node (``/healthz`` says it), ``health`` says why it cannot
        serve (``trouble``)."""
        self.config = config
        self.storage = storage
        self.broker = broker
        self.subscriptions = subscriptions
        self.metrics = metrics
        self.node = node
        self._health = health
        self.rules: dict[str, RuleSet] = builtin_rules()
        self.rng = rng if rng is not None else BufferedSystemRandom()
        self.clock = clock
        self.lobby = Lobby()
        self.closing = False  # stopping: new work is refused
        self.draining = False  # told to stop: /healthz says 503, everything else is still served
        self._peers: dict[str, set[Peer]] = {}  # this process's authenticated peers by player
        self._spectators_shown: dict[str, int] = {}  # the spectators each live game's summary shows
        self._summarized: dict[str, float] = {}  # loop time of each game's last game_updated
        self._summary_due: dict[str, asyncio.TimerHandle] = {}  # a game_updated held back
        self._tasks: set[asyncio.Task[None]] = set()
        self._queue_entries: dict[str, Waiting] = {}  # each queued player's (hub.queue)
        self._queue_timer: asyncio.TimerHandle | None = None  # the next pairing the gaps allow
        hub = cast("GameHub", self)
        self.table = GameTable(hub)
        self.identity = Identity(storage, self.now)
        self.presence: Presence = presence if presence is not None else LocalPresence(hub)
        self.feed: LobbyFeed = feed if feed is not None else LocalFeed(hub)
        self.games: LiveGames = games if games is not None else LocalGames(hub)
        self.lobby_stream = self.feed.lobby_stream
        # Every lobby and player event goes through here (the feed's ``publish``, bound).
        self._publish: Callable[[Stream, str, Any], None] = self.feed.publish
        if node is None:  # a cluster node's summaries show its own spectators: it does not listen
            subscriptions.on_game_change = self._watchers_changed

    def _watchers_changed(self, game_id: str) -> None:
        """A game topic gained or lost a subscriber (``hub.gamenews`` tells the lobby)."""

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
        return self._health() if self._health is not None else None

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
