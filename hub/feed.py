"""The lobby feed: changes of the lobby, and the ``lobby`` and ``player:`` topics they publish.

``GameHub`` makes every change of the lobby (presence, the queue, challenges, seats, statuses) as
one *section* of its ``LobbyFeed`` and publishes the events the lobby's core returned through it:

    async with hub.feed.section():
        hub._publish_effects(hub.lobby.challenge(...))

The feed holds the topics' streams (numbering, recent history for ``since``), answers the lobby
topic's snapshot, and publishes a live game's summary (``game_updated``) between sections.

- ``LocalFeed`` (here): one process.  The lobby lives in ``GameHub`` and every step runs on the
  event loop between awaits, so a section takes nothing and stores nothing; an event is numbered
  and handed to this process's subscribers at once.
- ``hub.cluster.feed.ClusterFeed``: a section takes the cluster's lobby lock in Redis, loads the
  lobby document into ``GameHub`` (the same ``Lobby`` and queue entries) and stores it with the
  section's events in one atomic step; the events reach subscribers through each node's relay.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hub.streams import Stream
from hub.topics import player_topic
from protocol.pairing import summary

if TYPE_CHECKING:
    from hub.service import GameHub

T = TypeVar("T")


class LobbyFeed(Protocol):
    """Changes of the lobby and the lobby and player topics."""

    lobby_stream: Stream  # the ``lobby`` topic

    def section(self) -> AbstractAsyncContextManager[None]:
        """One change of the lobby and the events it publishes, as one step (joined when
        already inside one)."""
        ...

    async def change(self, apply: Callable[[], T]) -> T:
        """One change of the lobby made by ``apply``, which awaits nothing (the same as
        ``apply()`` in a section, which a cluster node makes cheaper); its result."""
        ...

    def publish(self, stream: Stream, event: str, data: Any) -> None:
        """Publish one lobby or player event (in a section): every one goes through here."""
        ...

    def player_stream(self, name: str) -> Stream:
        """The stream of ``player:<name>`` (registered spelling)."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """The lobby topic's snapshot: what its events have said so far, never ahead of them."""
        ...

    def game_updated(self, game_id: str) -> None:
        """A live game's ``game_updated`` summary now (no section needed)."""
        ...

    def restore_summary(self, data: dict[str, Any]) -> None:
        """A live game's summary the snapshot shows without an event (games resumed after a
        restart, a lost lobby rebuilt; in a section)."""
        ...

    def forget(self, player: str) -> None:
        """A player left the lobby (in a section): their topic's history goes with them."""
        ...


class LocalFeed:
    """The lobby feed of one process: streams in memory, published at once."""

    def __init__(self, hub: GameHub) -> None:
        self.hub = hub
        self.lobby_stream = Stream("lobby", hub.config.history)
        self.player_streams: dict[str, Stream] = {}
        self.summaries: dict[str, dict[str, Any]] = {}  # each live game's last published summary

    @asynccontextmanager
    async def section(self) -> AsyncIterator[None]:
        """In one process the lobby lives in ``GameHub`` and every step runs on the event loop
        between awaits: there is nothing to take or store."""
        yield

    async def change(self, apply: Callable[[], T]) -> T:
        """Made at once."""
        return apply()

    def publish(self, stream: Stream, event: str, data: Any) -> None:
        """Number the event in its stream and hand it to this process's subscribers."""
        hub = self.hub
        payload = stream.append(event, data, hub.now())
        if stream is self.lobby_stream and event in ("game_started", "game_updated"):
            self.summaries[data["id"]] = data
        elif stream is self.lobby_stream and event == "game_finished":
            self.summaries.pop(data["id"], None)
        hub.metrics.events[stream.topic.partition(":")[0]] += 1
        hub.broker.publish(stream.topic, payload)

    def player_stream(self, name: str) -> Stream:
        """The stream of ``player:<name>``, made on first use."""
        stream = self.player_streams.get(name)
        if stream is None:
            stream = self.player_streams[name] = Stream(player_topic(name), self.hub.config.history)
        return stream

    def snapshot(self) -> dict[str, Any]:
        """Built from what the lobby announced, not from the lobby itself: while a change is
        being stored the lobby and the game already hold its outcome (a seat, a score, a
        finished game), but its events are not out yet."""
        lobby = self.hub.lobby
        players = sorted(lobby.announced.items(), key=lambda item: item[0].casefold())
        return {
            "players": [{"name": n, "status": s.value} for n, s in players],
            "games": list(self.summaries.values()),
            "queue": [pool.to_json() for pool in summary(lobby.announced_queue)],
        }

    def game_updated(self, game_id: str) -> None:
        """Publish the game's summary now."""
        hub = self.hub
        game = hub.table.live.get(game_id)
        if game is not None and not game.is_over and not hub.closing:
            hub._summarized[game_id] = asyncio.get_running_loop().time()
            hub._publish(self.lobby_stream, "game_updated", hub._lobby_summary(game))

    def restore_summary(self, data: dict[str, Any]) -> None:
        """The snapshot shows it from now on."""
        self.summaries[data["id"]] = data

    def forget(self, player: str) -> None:
        """Memory follows active players, not every player ever seen; a later subscriber gets a
        new epoch, i.e. a snapshot instead of a replay."""
        self.player_streams.pop(player, None)
