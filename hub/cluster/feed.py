"""The lobby feed of a cluster node: ``hub.feed.LobbyFeed`` over Redis.

Every change of the lobby runs as a *section*: the node takes the hub's lobby lock in Redis,
loads the lobby document (``hub.cluster.doc``) into the same ``GameHub`` attributes a single
process keeps (its ``Lobby``, the queue's entries) and the presence's connections, runs the same
code, and stores the document together with the lobby and player events it made in one atomic
step (``RedisState.commit``: fenced by the lock's token, so a node that lost the lock writes
nothing).  Its own events then reach its subscribers at once through the relay, followed by the
game events stored during the section (``game_started`` before a game's first event); every
other node gets them from Redis.  A change that fails (Redis down: the error ``unavailable``) is
not stored at all.  The changes of a node waiting for the lock go together in one hold of it, one
after the other, and are stored in one step (``hub.cluster.sections``).

What a node *shows* of the lobby (snapshots, REST) is its ``LobbyView``, built from the events it
delivered; ``player:`` streams are the relay's copies while the player has a connection here.  A
live game's ``game_updated`` takes no lock: it is stored on condition that the game's summary is
still there (``IfHas``), so a game that finished meanwhile, on any node, gets none.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from hub.cluster.changes import Append, HDel, HSet, IfHas, Op, Published
from hub.cluster.doc import LobbyDoc, copy, dump, load
from hub.cluster.relay import parse_seq
from hub.cluster.sections import LobbySections, Section
from hub.cluster.view import LobbyView
from hub.streams import Stream
from hub.topics import player_topic
from protocol.messages import encode_data

if TYPE_CHECKING:
    from hub.cluster.node import ClusterHub
    from hub.service import GameHub

log = logging.getLogger(__name__)

SUMMARIES = "summaries"  # hash: live game id -> its lobby summary's JSON


class ClusterFeed(LobbySections[LobbyDoc]):
    """The lobby, decided one change at a time across the cluster, and its topics here."""

    hub: GameHub  # set once the node's ``GameHub`` is built

    def __init__(self, cluster: ClusterHub) -> None:
        self.cluster = cluster
        self.lobby_stream = Stream("lobby", cluster.config.history)
        self.player_streams: dict[str, Stream] = {}  # the relay's copies
        self.view = LobbyView()
        super().__init__()  # the line of changes; ``changes``: how many this node stored

    # -- the steps of a hold of the lobby lock (``hub.cluster.sections``) --------------------

    async def _take(self) -> str:
        token, raw = await self.cluster.state.acquire_and_load(owner=self.cluster.name)
        try:
            self._adopt(load(raw))
        except BaseException:
            await self._let_go(token)
            raise
        return token

    def _snapshot(self) -> LobbyDoc:
        return copy(self._doc())

    def _restore(self, document: LobbyDoc) -> None:
        self._adopt(copy(document))

    async def _store(self, section: Section, made: int) -> list[Published]:
        if not made:
            await self._let_go(section.token)
            return []
        # As in one process, a player's topic history goes with them (in the same step as their
        # player_left): Redis holds topics of active players only, and one who comes back starts
        # a new epoch (a snapshot).
        forget = [player_topic(player) for player in section.forget]
        document = dump(self._doc())
        return await self.cluster.state.commit(
            section.token, document, section.ops, section.appends, release=True, forget=forget
        )

    async def _let_go(self, token: str) -> None:
        try:
            await self.cluster.state.release(token)
        except Exception:  # it expires by itself; the next holder fences us out anyway
            log.warning("could not release the lobby lock", exc_info=True)

    async def _out(self, section: Section, published: list[Published]) -> None:
        """The hold's lobby and player events first, then the game events stored in it (stored
        in PostgreSQL: they are delivered even when the lobby's change failed)."""
        await self.offer(published)
        for game, events in section.after:
            await self.cluster.games.deliver_now(game, events)

    def _adopt(self, doc: LobbyDoc) -> None:
        hub = self.hub
        hub.lobby = doc.lobby
        hub._queue_entries = doc.entries
        self.cluster.presence.conns = doc.conns

    def _doc(self) -> LobbyDoc:
        hub = self.hub
        return LobbyDoc(hub.lobby, hub._queue_entries, self.cluster.presence.conns)

    async def offer(self, published: list[Published]) -> None:
        """This node's own lobby and player events: to its subscribers now, in order."""
        relay = self.cluster.relay
        for p in published:
            if relay.cursor(p.topic) is not None:
                try:
                    await relay.offer(p.topic, p.epoch, p.seq, p.frame)
                except Exception as exc:  # the relay catches up from Redis when it can
                    log.warning("delivering %s here failed: %s", p.topic, exc)

    # -- publishing ------------------------------------------------------------------------

    def publish(self, stream: Stream, event: str, data: Any) -> None:
        """Add a lobby or player event to the section under way (stored with it)."""
        hub = self.hub
        text = encode_data(data)
        section = self.current()
        if section is None:  # not expected: every lobby change runs in a section
            log.error("lobby event %s on %s outside a change of the lobby", event, stream.topic)
            hub._spawn(self._publish_alone(stream.topic, event, text), "publish")
            return
        hub.metrics.events[stream.topic.partition(":")[0]] += 1
        section.appends.append(Append(stream.topic, event, hub.now(), text))
        if stream.topic == "lobby":
            if event in ("game_started", "game_updated"):
                section.ops.append(HSet(SUMMARIES, data["id"], text))
            elif event == "game_finished":
                section.ops.append(HDel(SUMMARIES, data["id"]))

    async def _publish_alone(self, topic: str, event: str, text: str) -> None:
        hub = self.hub
        append = Append(topic, event, hub.now(), text)
        published = await self.cluster.state.commit(None, None, [], [append])
        await self.offer(published)

    def game_updated(self, game_id: str) -> None:
        """A live game's summary, stored and published without the lobby lock."""
        hub = self.hub
        if game_id in hub.table.live and not hub.closing:
            hub._spawn(self._game_updated(game_id), "summary")

    async def _game_updated(self, game_id: str) -> None:
        """It changes nothing of the lobby document, and it is stored only while the game's
        summary is still there (``IfHas``: a game that finished meanwhile gets none)."""
        hub = self.hub
        game = hub.table.live.get(game_id)
        if game is None or game.is_over:
            return
        hub._summarized[game_id] = asyncio.get_running_loop().time()
        text = encode_data(hub._lobby_summary(game))
        ops: list[Op] = [IfHas(SUMMARIES, game_id), HSet(SUMMARIES, game_id, text)]
        append = Append(self.lobby_stream.topic, "game_updated", hub.now(), text)
        published = await self.cluster.state.commit(None, None, ops, [append])
        if published:
            hub.metrics.events["lobby"] += 1
        await self.offer(published)

    def restore_summary(self, data: dict[str, Any]) -> None:
        """Stored with the section under way."""
        section = self.current()
        assert section is not None
        section.ops.append(HSet(SUMMARIES, data["id"], encode_data(data)))

    def forget(self, player: str) -> None:
        """The player's topic is deleted from Redis by the section's commit, after its events."""
        section = self.current()
        assert section is not None
        section.forget.append(player)

    # -- what this node shows --------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The lobby topic's snapshot as this node's delivered events tell it."""
        return self.view.snapshot()

    def player_stream(self, name: str) -> Stream:
        """``player:<name>`` as this node holds it (its relay's copy while the player has a
        connection here; else only the name, for publishing)."""
        stream = self.player_streams.get(name)
        return stream if stream is not None else Stream(player_topic(name), 0)

    async def watch_player(self, player: str) -> None:
        """Hold ``player:<name>`` here (the relay's copy) while the player has a connection; a
        copy of an epoch that ended (the player left meanwhile) is replaced."""
        cluster = self.cluster
        topic = player_topic(player)
        async with self.hub.table.lock(topic):
            epoch, seq = await cluster.state.head(topic)
            stream = self.player_streams.get(player)
            if stream is not None and stream.epoch == epoch:
                return
            stream = Stream(topic, cluster.config.history)
            stream.epoch, stream.seq = epoch, seq
            self.player_streams[player] = stream
            await cluster.relay.watch(topic, epoch, seq)

    async def load(self) -> None:
        """The lobby's snapshot, its summaries and its topic's head, read in one step."""
        snap = await self.cluster.state.snapshot("lobby", [SUMMARIES])
        self.view.reset(load(snap.document), snap.hashes.get(SUMMARIES, {}))
        stream = self.lobby_stream
        stream.epoch, stream.seq = snap.epoch, snap.seq
        stream.ring.clear()

    def relayed(self, topic: str, seq: int, frame: bytes) -> None:
        """A lobby or player topic's next event, as the relay delivers it here."""
        stream = self.lobby_stream if topic == "lobby" else self.mirror(topic)
        if stream is not None:
            stream.seq = seq
            stream.ring.append((seq, frame))
        if topic == "lobby":
            self.view.apply(frame)

    def mirror(self, topic: str) -> Stream | None:
        """This node's copy of a ``player:`` topic, if it holds one."""
        return self.player_streams.get(topic.partition(":")[2])

    async def restart(self, topic: str) -> None:
        """A topic's history was lost (Redis restarted empty): start again from its head."""
        if topic == "lobby":
            await self.load()
        else:
            stream = self.mirror(topic)
            if stream is not None:
                stream.epoch, stream.seq = await self.cluster.state.head(topic)
                stream.ring.clear()

    async def since(self, topic: str, epoch: str, seq: int) -> list[tuple[int, bytes]] | None:
        """A lobby or player topic's frames after ``seq`` (None: that epoch is gone)."""
        frames = await self.cluster.state.since(topic, epoch, seq)
        return None if frames is None else [(parse_seq(f), f) for f in frames]
