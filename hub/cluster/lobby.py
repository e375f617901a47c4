"""The lobby of a cluster node: presence, queue, challenges and seats shared through Redis.

Every change of the lobby runs as a *section* (``shared()``): the node takes the hub's lobby lock
in Redis, loads the lobby document (``hub.cluster.doc``) into the same attributes a single
process keeps, runs the same code, and stores the document together with the lobby and player
events it made in one atomic step (``RedisState.commit``: fenced by the lock's token, so a node
that lost the lock writes nothing).  Its own events then reach its subscribers at once through
the relay; every other node gets them from Redis.  A change that fails (Redis down: the error
``unavailable``) is not stored at all.

Presence: each connection is ``<node>|<session>`` in the document; when a player's last one
closes, their leave is due at now + grace in the ``leaving`` sorted set, and any node's reaper
(``hub.cluster.node``) lets them leave then, unless a connection came back anywhere.  What a node
*shows* of the lobby (snapshots, REST) is its ``LobbyView``, built from the events it delivered.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from attrs import define, field

from hub.cluster.changes import Append, HDel, HSet, IfHas, Op, Published
from hub.cluster.doc import LobbyDoc, dump, load
from hub.cluster.games import ClusterGames
from hub.cluster.view import LobbyView
from hub.streams import Stream
from hub.topics import player_topic
from protocol.errors import ProtocolError
from protocol.game import Game
from protocol.messages import encode_data
from storage.base import StoredEvent

if TYPE_CHECKING:
    from hub.cluster.presence import ClusterPresence

log = logging.getLogger(__name__)

SUMMARIES = "summaries"  # hash: live game id -> its lobby summary's JSON
RETRY_FINISH = (0.5, 1, 2, 4, 8, 15, 30, 60, 60, 60)  # seconds between tries to tell the lobby


@define
class _Section:
    """One change of the lobby under way: its lock token, task, and what it will store."""

    token: str
    task: asyncio.Task[Any] | None
    ops: list[Op] = field(factory=list)
    appends: list[Append] = field(factory=list)
    after: list[tuple[Game, list[StoredEvent]]] = field(factory=list)  # game events made in it


_SECTION: contextvars.ContextVar[_Section | None] = contextvars.ContextVar("section", default=None)


class ClusterLobby(ClusterGames):
    """``GameHub``'s lobby, decided one change at a time across the cluster."""

    node: str
    view: LobbyView
    presence: ClusterPresence

    # -- sections --------------------------------------------------------------------------

    def _section(self) -> _Section | None:
        section = _SECTION.get()
        if section is not None and section.task is asyncio.current_task():
            return section
        return None  # none, or a timer or task started inside one that has ended

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        """One change of the lobby, under the hub's lobby lock (joined when already in one)."""
        if self._section() is not None:
            yield
            return
        token, raw = await self.state.acquire_and_load(owner=self.node)
        section = _Section(token, asyncio.current_task())
        entered = _SECTION.set(section)
        published: list[Published] = []
        stored = False
        try:
            self._adopt(load(raw))
            yield
            document = dump(self._doc())
            published = await self.state.commit(
                token, document, section.ops, section.appends, release=True
            )
            stored = True
        finally:
            _SECTION.reset(entered)
            if not stored:
                try:
                    await self.state.release(token)
                except Exception:  # it expires by itself; the next holder fences us out anyway
                    log.warning("could not release the lobby lock", exc_info=True)
            # The section's lobby and player events first, then the game events it stored
            # (stored in PostgreSQL: they are delivered even when the lobby's change failed).
            await self._offer(published)
            for game, events in section.after:
                await self._deliver_now(game, events)

    async def _deliver(self, game: Game, events: list[StoredEvent]) -> None:
        """A game's stored events; those of a game started in a section follow its lobby and
        player events (``game_started`` before the game's first event, as in one process)."""
        section = self._section()
        if section is not None:
            section.after.append((game, events))
        else:
            await self._deliver_now(game, events)

    def _adopt(self, doc: LobbyDoc) -> None:
        self.lobby = doc.lobby
        self._queue_entries = doc.entries
        self.presence.conns = doc.conns

    def _doc(self) -> LobbyDoc:
        return LobbyDoc(self.lobby, self._queue_entries, self.presence.conns)

    async def _offer(self, published: list[Published]) -> None:
        """This node's own lobby and player events: to its subscribers now, in order."""
        for p in published:
            if self.relay.cursor(p.topic) is not None:
                try:
                    await self.relay.offer(p.topic, p.epoch, p.seq, p.frame)
                except Exception as exc:  # the relay catches up from Redis when it can
                    log.warning("delivering %s here failed: %s", p.topic, exc)

    def _publish(self, stream: Stream, event: str, data: Any) -> None:
        """Add a lobby or player event to the section under way (stored with it)."""
        text = encode_data(data)
        section = self._section()
        if section is None:  # not expected: every lobby change runs in a section
            log.error("lobby event %s on %s outside a change of the lobby", event, stream.topic)
            self._spawn(self._publish_alone(stream.topic, event, text), "publish")
            return
        self.metrics.events[stream.topic.partition(":")[0]] += 1
        section.appends.append(Append(stream.topic, event, self.now(), text))
        if stream.topic == "lobby":
            if event in ("game_started", "game_updated"):
                section.ops.append(HSet(SUMMARIES, data["id"], text))
            elif event == "game_finished":
                section.ops.append(HDel(SUMMARIES, data["id"]))

    async def _publish_alone(self, topic: str, event: str, text: str) -> None:
        published = await self.state.commit(
            None, None, [], [Append(topic, event, self.now(), text)]
        )
        await self._offer(published)

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.warning("%s failed: %s", task.get_name(), exc, exc_info=exc)

    # -- what this node shows --------------------------------------------------------------

    def lobby_snapshot(self) -> dict[str, Any]:
        """The lobby topic's snapshot as this node's delivered events tell it."""
        return self.view.snapshot()

    def player_stream(self, name: str) -> Stream:
        """``player:<name>`` as this node holds it (its relay's copy while the player has a
        connection here; else only the name, for publishing)."""
        stream = self._player_streams.get(name)
        return stream if stream is not None else Stream(player_topic(name), 0)

    async def _watch_player(self, player: str) -> None:
        """Hold ``player:<name>`` here (the relay's copy) while the player has a connection; a
        copy of an epoch that ended (the player left meanwhile) is replaced."""
        topic = player_topic(player)
        async with self.lock(topic):
            epoch, seq = await self.state.head(topic)
            stream = self._player_streams.get(player)
            if stream is not None and stream.epoch == epoch:
                return
            stream = Stream(topic, self.config.history)
            stream.epoch, stream.seq = epoch, seq
            self._player_streams[player] = stream
            await self.relay.watch(topic, epoch, seq)

    # -- a finished game ------------------------------------------------------------------

    async def _finished(self, game: Game) -> None:
        """The game is stored as finished, so the move that finished it is answered ``ok``
        even when the lobby cannot hear of it now (Redis down): it is told again until it has."""
        try:
            await super()._finished(game)
        except ProtocolError as exc:
            log.warning("the lobby did not hear that game %s finished (%s); retrying", game.id, exc)
            self._spawn(self._finish_later(game), f"finish {game.id}")

    async def _finish_later(self, game: Game) -> None:
        for delay in RETRY_FINISH:
            await asyncio.sleep(delay)
            try:
                async with self.shared():
                    if any(self.lobby.live.get(p) == game.id for p in game.humans):
                        self.lobby.unseat(game.humans, game.id)
                        summary = self._lobby_summary(game)
                        self._publish(self.lobby_stream, "game_finished", summary)
                        self._sync_statuses(game.humans)
                return
            except ProtocolError:
                continue
        log.error("the lobby never heard that game %s finished", game.id)

    # -- timers that change the lobby ------------------------------------------------------

    def _summary_now(self, game_id: str) -> None:
        self._summary_due.pop(game_id, None)
        if game_id in self._games and not self.closing:
            self._spawn(self._summary_shared(game_id), "summary")

    async def _summary_shared(self, game_id: str) -> None:
        """A live game's ``game_updated``, without the lobby lock: it changes nothing of the
        lobby document, and it is stored only while the game's summary is still there
        (``IfHas``: a game that finished meanwhile, on any node, gets none)."""
        game = self._games.get(game_id)
        if game is None or game.is_over:
            return
        self._summarized[game_id] = asyncio.get_running_loop().time()
        text = encode_data(self._lobby_summary(game))
        ops: list[Op] = [IfHas(SUMMARIES, game_id), HSet(SUMMARIES, game_id, text)]
        append = Append(self.lobby_stream.topic, "game_updated", self.now(), text)
        published = await self.state.commit(None, None, ops, [append])
        if published:
            self.metrics.events["lobby"] += 1
        await self._offer(published)

    async def _pair_when_due(self) -> None:
        try:
            async with self.shared():
                await self.pair_waiting()
                self._sync_queue()
        except Exception:
            log.exception("pairing the queue failed")
