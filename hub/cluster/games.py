"""The games of a cluster node: any node acts on any game, PostgreSQL decides who was first.

A node keeps the games it acted on as a cache.  Every change is stored by compare-and-set on the
game's ``seq`` (``storage.base.StaleGame`` when another node stored one first): the node then
reloads the stored game, applies the action again through the pure core and stores again, a
few times at most.  A refusal by the core on a cached game may come from a stale copy, so the
game is reloaded and asked once more before the refusal is answered.  The seq is the fencing
token: no owner, no lease, and a node that died mid-change left either all of it or nothing.

Deadlines: the node that stored a round arms its timer, and every node sweeps the stored
overdue games once a second (``Storage.overdue``), so a dead node's deadlines still fire, once
(the compare-and-set lets one expiry through).  Game-topic events reach this node's subscribers
through its relay (``hub.cluster.relay``), which this node's own events pass through as well, so
they arrive in seq order with nothing missing or twice, from whichever node made them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from hub.cluster.redis_state import RedisState, Unavailable
from hub.cluster.relay import Relay
from hub.fanout import Peer
from hub.service import GameHub
from hub.streams import replay_from
from hub.topics import event_payload, game_topic
from protocol.errors import NotFound, ProtocolError
from protocol.game import Game, Status
from protocol.wire import game_json
from storage.base import StaleGame, StoredEvent

if TYPE_CHECKING:
    from hub.cluster.feed import ClusterFeed
    from hub.cluster.presence import ClusterPresence

log = logging.getLogger(__name__)

ATTEMPTS = 6  # tries of one action against other nodes' changes of the same game
OVERDUE_SLACK_MS = 500  # a round this far past its deadline is expired by whichever node sweeps
RETRY_FINISH = (0.5, 1, 2, 4, 8, 15, 30, 60, 60, 60)  # seconds between tries to tell the lobby


class ClusterGames(GameHub):
    """``GameHub``'s games, decided by compare-and-set on each game's seq in PostgreSQL."""

    node: str
    state: RedisState
    relay: Relay
    feed: ClusterFeed
    presence: ClusterPresence
    _epochs: dict[str, str]  # game topic watched by the relay -> its epoch
    _outbox: asyncio.Queue[tuple[str, str, bytes]]  # game-topic frames for the other nodes

    # -- loading ---------------------------------------------------------------------------

    async def _stored(self, game_id: str) -> tuple[Game, int]:
        """The stored game and its seq, read as of one moment (the seq only grows, so a game
        read between two equal readings of it is the game at that seq)."""
        for _ in range(ATTEMPTS):
            before = await self.storage.last_seq(game_id)
            game = await self.storage.game(game_id)
            if game is None:
                raise NotFound(f"no game {game_id!r}")
            if await self.storage.last_seq(game_id) == before:
                return game, before
        raise Unavailable(f"game {game_id} kept changing while it was read; try again")

    async def _reload(self, game_id: str) -> Game:
        """Forget the cached game and take the stored one (the caller holds its lock)."""
        self._forget(game_id)
        game, seq = await self._stored(game_id)
        if game.status is Status.PLAYING:
            await self._read_history(game)
            self._games[game_id] = game
            self._seqs[game_id] = seq
            self._arm_deadline(game)
            self.metrics.games_live.set(len(self._games))
        return game

    async def _current(self, game_id: str) -> Game:
        game = self._games.get(game_id)
        return game if game is not None else await self._reload(game_id)

    async def game(self, game_id: str) -> Game:
        """A game by id as stored: a cached copy may be behind another node's change."""
        game = await self.storage.game(game_id)
        if game is None:
            return await super().game(game_id)  # NotFound, or a game not yet stored
        return game

    async def game_view(self, game_id: str) -> dict[str, Any]:
        """A game's JSON as stored (committed: other nodes' changes included)."""
        return game_json(await self.game(game_id))

    # -- actions ---------------------------------------------------------------------------

    async def move(
        self, game_id: str, player: str, roll: str, round: int | None, *, transport: str
    ) -> tuple[int, Game]:
        """Take a move, against whatever other nodes stored meanwhile."""
        for attempt in range(ATTEMPTS):
            async with self.lock(game_id):
                cached = attempt == 0 and game_id in self._games
                game = await self._current(game_id) if attempt == 0 else await self._reload(game_id)
                try:
                    counted, effects = game.move(player, roll, round, now=self.now(), rng=self.rng)
                except ProtocolError:
                    if cached:
                        continue  # maybe a stale copy: ask the stored game
                    raise
                if not effects:
                    return counted, game
                self.metrics.moves[transport] += 1
                try:
                    await self._commit(game, effects)
                except StaleGame:
                    continue
                return counted, game
        raise Unavailable(f"game {game_id} kept changing on other nodes; try again")

    async def resign(self, game_id: str, player: str) -> Game:
        """``player`` resigns the game."""
        for attempt in range(ATTEMPTS):
            async with self.lock(game_id):
                cached = attempt == 0 and game_id in self._games
                game = await self._current(game_id) if attempt == 0 else await self._reload(game_id)
                try:
                    effects = game.resign(player, now=self.now())
                except ProtocolError:
                    if cached:
                        continue
                    raise
                try:
                    await self._commit(game, effects)
                except StaleGame:
                    continue
                return game
        raise Unavailable(f"game {game_id} kept changing on other nodes; try again")

    async def _expire(self, game_id: str, round: int) -> None:
        """A deadline: expire the stored game's open round if it is still due."""
        try:
            await self.expire_stored(game_id)
        except Exception:
            log.exception("deadline of game %s round %s failed", game_id, round)

    async def expire_stored(self, game_id: str) -> None:
        """Expire a game's open round if its deadline (or idle limit) has passed: whichever
        node gets there first stores it, the others find it done."""
        for _ in range(ATTEMPTS):
            async with self.lock(game_id):
                game = await self._reload(game_id)
                due = game.due
                if game.is_over or due is None:
                    return
                now = self.now()
                if now < due:
                    self._arm_deadline(game)
                    return
                effects = game.expire(game.round, now=now, rng=self.rng)
                if not effects:
                    return
                try:
                    await self._commit(game, effects)
                except StaleGame:
                    continue
                return

    async def sweep_overdue(self) -> None:
        """Expire every stored game whose deadline passed a while ago (a dead node's), all at
        once: one game waiting (for the lobby, when the round ends it) delays no other."""
        overdue = await self.storage.overdue(self.now() - OVERDUE_SLACK_MS)
        await asyncio.gather(*(self._expire(game_id, 0) for game_id in overdue))

    # -- topics ----------------------------------------------------------------------------

    async def _deliver(self, game: Game, events: list[StoredEvent]) -> None:
        """A game's stored events; those of a game started in a section follow its lobby and
        player events (``game_started`` before the game's first event, as in one process)."""
        section = self.feed.current()
        if section is not None:
            section.after.append((game, events))
        else:
            await self._deliver_now(game, events)

    async def _deliver_now(self, game: Game, events: list[StoredEvent]) -> None:
        """Stored events: to this node's subscribers through the relay, in order, and to the
        other nodes through Redis (after the reply if need be: a node that missed them
        catches up from PostgreSQL)."""
        topic = game_topic(game.id)
        self.metrics.events["game"] += len(events)
        if self.relay.cursor(topic) is None and self.subscriptions.peers(topic):
            await self._watch_game(topic, game.epoch, events[0].seq - 1)
        watched = self.relay.cursor(topic) is not None
        for e in events:
            frame = event_payload(topic, e)
            if watched:
                await self.relay.offer(topic, game.epoch, e.seq, frame)
            self._outbox.put_nowait((topic, game.epoch, frame))

    async def _watch_game(self, topic: str, epoch: str, seq: int) -> None:
        self._epochs[topic] = epoch
        await self.relay.watch(topic, epoch, seq)

    def _relayed_game(self, topic: str, seq: int) -> None:
        """Another node stored this game's event: a cached copy behind it is stale."""
        game_id = topic[5:]
        known = self._seqs.get(game_id)
        if known is not None and known < seq and not self._locked(game_id):
            self._forget(game_id)

    def _watchers_changed(self, game_id: str) -> None:
        """Spectators are counted per node: a summary shows the count of the node that sent
        it, and a change of it here sends none (nodes would contradict each other)."""

    def _locked(self, game_id: str) -> bool:
        entry = self._locks.get(game_id)
        return entry is not None and entry.lock.locked()

    async def follow_game(
        self, peer: Peer, game_id: str, since: int | None, epoch: str | None, *, whole: bool = False
    ) -> tuple[Game, int, list[bytes] | None]:
        """Subscribe ``peer`` to a game's topic on this node: the stored game at a seq, the
        relay brought up to that seq, the missed frames read, and the subscription added with
        no await after the relay's cursor was checked, so nothing falls in a gap or comes
        twice whatever other nodes do meanwhile."""
        topic = game_topic(game_id)
        async with self.lock(game_id):
            for _ in range(ATTEMPTS):
                game, seq = await self._stored(game_id)
                cursor = self.relay.cursor(topic)
                if cursor is None:
                    await self._watch_game(topic, game.epoch, seq)
                elif cursor[1] < seq:
                    for e in await self.storage.events(game_id, cursor[1]):
                        if e.seq <= seq:
                            await self.relay.offer(
                                topic, game.epoch, e.seq, event_payload(topic, e)
                            )
                missed = None
                if whole:
                    since, epoch = 0, game.epoch
                if since is not None and epoch == game.epoch and since <= seq:
                    replay = replay_from(peer.topics.get(topic), since, seq)
                    if replay:
                        events = await self.storage.events(game_id, since)
                        missed = [event_payload(topic, e) for e in events if e.seq <= seq]
                    elif replay is not None:
                        missed = []
                if self.relay.cursor(topic) != (game.epoch, seq):
                    continue  # another node's event arrived meanwhile: read again
                start = since if missed is not None and since is not None else seq
                self.subscriptions.add(topic, peer, start)
                return game, seq, missed
        raise Unavailable(f"game {game_id} kept changing while subscribing; try again")

    async def seat_game(self, peer: Peer, player: str) -> tuple[str, int, str] | None:
        """Subscribe a player's new connection to the game they play on any node."""
        live = await self.storage.live_game_of(player)
        if live is None:
            return None
        game, seq, _ = await self.follow_game(peer, live, None, None)
        return game_topic(live), seq, game.epoch

    async def seat_remote(self, player: str, game_id: str) -> None:
        """A game of ``player`` started on another node: this node's connections of theirs
        follow its topic from its first event, as the starting node's do."""
        for peer in list(self._peers.get(player, ())):
            if game_topic(game_id) in peer.topics or peer.closing:
                continue
            try:
                _, _, missed = await self.follow_game(peer, game_id, None, None, whole=True)
            except ProtocolError as exc:
                log.info("seating %s in game %s here failed: %s", player, game_id, exc)
                continue
            for frame in missed or ():  # before any live event: no await since subscribing
                peer.send(frame)

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
                async with self.feed.section():
                    if any(self.lobby.live.get(p) == game.id for p in game.humans):
                        self.lobby.unseat(game.humans, game.id)
                        summary = self._lobby_summary(game)
                        self._publish(self.lobby_stream, "game_finished", summary)
                        self._sync_statuses(game.humans)
                return
            except ProtocolError:
                continue
        log.error("the lobby never heard that game %s finished", game.id)
