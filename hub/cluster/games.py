"""The games of a cluster node: ``hub.livegames.LiveGames`` where PostgreSQL decides who was first.

Any node acts on any game.  A node keeps the games it acted on as a cache (``GameHub.table``).
Every change is stored by compare-and-set on the game's ``seq`` (``storage.base.StaleGame`` when
another node stored one first): ``GameHub`` then asks for the stored game (``current`` with a
later attempt), applies the action again through the pure core and stores again, ``ATTEMPTS``
times at most.  A refusal by the core on a cached game may come from a stale copy, so the game
is reloaded and asked once more before the refusal is answered.  The seq is the fencing token: no
owner, no lease, and a node that died mid-change left either all of it or nothing.

Deadlines: the node that stored a round arms its timer, and every node sweeps the stored overdue
games once a second (``sweep_overdue``), so a dead node's deadlines still fire, once (the
compare-and-set lets one expiry through).  Game-topic events reach this node's subscribers
through its relay (``hub.cluster.relay``), which this node's own events pass through as well, so
they arrive in seq order with nothing missing or twice, from whichever node made them; the other
nodes get them from Redis (the outbox, sent by ``hub.cluster.node``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from hub.cluster.redis_state import Unavailable
from hub.fanout import Peer
from hub.livegames import read_history
from hub.streams import replay_from
from hub.topics import event_payload, game_topic, player_topic
from protocol.errors import NotFound, ProtocolError
from protocol.game import Game, Status
from protocol.wire import game_json
from storage.base import StaleGame, StoredEvent

if TYPE_CHECKING:
    from hub.cluster.node import ClusterHub
    from hub.service import GameHub

log = logging.getLogger(__name__)

ATTEMPTS = 6  # tries of one action against other nodes' changes of the same game
OVERDUE_SLACK_MS = 500  # a round this far past its deadline is expired by whichever node sweeps


class ClusterGames:
    """The games, decided by compare-and-set on each game's seq in PostgreSQL."""

    attempts = ATTEMPTS
    stored_seats = True  # PostgreSQL's (``live_seats``): no lobby lock held for a game's write
    hub: GameHub  # set once the node's ``GameHub`` is built

    def __init__(self, cluster: ClusterHub) -> None:
        self.cluster = cluster
        self.epochs: dict[str, str] = {}  # game topic watched by the relay -> its epoch
        self.outbox: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue()  # for other nodes
        self._seating: set[Peer] = set()  # connections whose ``auth`` is seating them (seat)

    async def resume(self) -> int:
        """Live games are not loaded: any node loads a game when it acts on it."""
        return 0

    # -- loading ---------------------------------------------------------------------------

    async def _stored(self, game_id: str) -> tuple[Game, int]:
        """The stored game and its seq, read as of one moment (the seq only grows, so a game
        read between two equal readings of it is the game at that seq)."""
        storage = self.hub.storage
        for _ in range(ATTEMPTS):
            before = await storage.last_seq(game_id)
            game = await storage.game(game_id)
            if game is None:
                raise NotFound(f"no game {game_id!r}")
            if await storage.last_seq(game_id) == before:
                return game, before
        raise Unavailable(f"game {game_id} kept changing while it was read; try again")

    async def _reload(self, game_id: str) -> Game:
        """Forget the cached game and take the stored one (the caller holds its lock)."""
        hub = self.hub
        table = hub.table
        hub._forget(game_id)
        game, seq = await self._stored(game_id)
        if game.status is Status.PLAYING:
            await read_history(hub.storage, game)
            table.live[game_id] = game
            table.seqs[game_id] = seq
            table.arm(game)
            hub.metrics.games_live.set(len(table.live))
        return game

    async def current(self, game_id: str, attempt: int) -> Game:
        """The cached copy on a first attempt, else the stored game."""
        if not attempt:
            game = self.hub.table.live.get(game_id)
            if game is not None:
                return game
        return await self._reload(game_id)

    async def game(self, game_id: str) -> Game:
        """A game by id as stored: a cached copy may be behind another node's change."""
        game = await self.hub.storage.game(game_id)
        if game is not None:
            return game
        live = self.hub.table.live.get(game_id)  # a game not yet stored
        if live is None:
            raise NotFound(f"no game {game_id!r}")
        return live

    async def view(self, game_id: str) -> dict[str, Any]:
        """A game's JSON as stored (committed: other nodes' changes included)."""
        return game_json(await self.game(game_id))

    def kept_changing(self, game_id: str) -> Exception:
        """Every attempt lost to another node's change."""
        return Unavailable(f"game {game_id} kept changing on other nodes; try again")

    # -- deadlines -------------------------------------------------------------------------

    async def expire(self, game_id: str, round: int) -> None:
        """A deadline: expire the stored game's open round if it is still due."""
        try:
            await self.expire_stored(game_id)
        except Exception:
            log.exception("deadline of game %s round %s failed", game_id, round)

    async def expire_stored(self, game_id: str) -> None:
        """Expire a game's open round if its deadline (or idle limit) has passed: whichever
        node gets there first stores it, the others find it done."""
        hub = self.hub
        for _ in range(ATTEMPTS):
            async with hub.table.lock(game_id):
                game = await self._reload(game_id)
                due = game.due
                if game.is_over or due is None:
                    return
                now = hub.now()
                if now < due:
                    hub.table.arm(game)
                    return
                effects = game.expire(game.round, now=now, rng=hub.rng)
                if not effects:
                    return
                try:
                    await hub._commit(game, effects)
                except StaleGame:
                    continue
                return

    async def sweep_overdue(self) -> None:
        """Expire every stored game whose deadline passed a while ago (a dead node's), all at
        once: one game waiting (for the lobby, when the round ends it) delays no other."""
        hub = self.hub
        overdue = await hub.storage.overdue(hub.now() - OVERDUE_SLACK_MS)
        await asyncio.gather(*(self.expire(game_id, 0) for game_id in overdue))

    # -- topics ----------------------------------------------------------------------------

    async def deliver(self, game: Game, events: list[StoredEvent]) -> None:
        """A game's stored events; those of a game started in a lobby section follow its lobby
        and player events (``game_started`` before the game's first event, as in one process)."""
        section = self.cluster.feed.current()
        if section is not None:
            section.after.append((game, events))
        else:
            await self.deliver_now(game, events)

    async def deliver_now(self, game: Game, events: list[StoredEvent]) -> None:
        """Stored events: to this node's subscribers through the relay, in order, and to the
        other nodes through Redis (after the reply if need be: a node that missed them
        catches up from PostgreSQL)."""
        hub, relay = self.hub, self.cluster.relay
        topic = game_topic(game.id)
        hub.metrics.events["game"] += len(events)
        if relay.cursor(topic) is None and hub.subscriptions.peers(topic):
            await self._watch_game(topic, game.epoch, events[0].seq - 1)
        watched = relay.cursor(topic) is not None
        for e in events:
            frame = event_payload(topic, e)
            if watched:
                await relay.offer(topic, game.epoch, e.seq, frame)
            self.outbox.put_nowait((topic, game.epoch, frame))

    async def _watch_game(self, topic: str, epoch: str, seq: int) -> None:
        self.epochs[topic] = epoch
        await self.cluster.relay.watch(topic, epoch, seq)

    def relayed(self, topic: str, seq: int) -> None:
        """Another node stored this game's event: a cached copy behind it is stale."""
        game_id = topic[5:]
        hub = self.hub
        known = hub.table.seqs.get(game_id)
        if known is not None and known < seq and not hub.table.locked(game_id):
            hub._forget(game_id)

    async def follow(
        self, peer: Peer, game_id: str, since: int | None, epoch: str | None, *, whole: bool = False
    ) -> tuple[Game, int, list[bytes] | None]:
        """Subscribe ``peer`` to a game's topic on this node: the stored game at a seq, the
        relay brought up to that seq, the missed frames read, and the subscription added with
        no await after the relay's cursor was checked, so nothing falls in a gap or comes
        twice whatever other nodes do meanwhile."""
        hub, relay = self.hub, self.cluster.relay
        topic = game_topic(game_id)
        async with hub.table.lock(game_id):
            for _ in range(ATTEMPTS):
                game, seq = await self._stored(game_id)
                cursor = relay.cursor(topic)
                if cursor is None:
                    await self._watch_game(topic, game.epoch, seq)
                elif cursor[1] < seq:
                    for e in await hub.storage.events(game_id, cursor[1]):
                        if e.seq <= seq:
                            await relay.offer(topic, game.epoch, e.seq, event_payload(topic, e))
                missed = None
                if whole and topic not in peer.topics:  # else subscribed meanwhile (its auth)
                    since, epoch = 0, game.epoch
                if since is not None and epoch == game.epoch and since <= seq:
                    replay = replay_from(peer.topics.get(topic), since, seq)
                    if replay:
                        events = await hub.storage.events(game_id, since)
                        missed = [event_payload(topic, e) for e in events if e.seq <= seq]
                    elif replay is not None:
                        missed = []
                if relay.cursor(topic) != (game.epoch, seq):
                    continue  # another node's event arrived meanwhile: read again
                start = since if missed is not None and since is not None else seq
                hub.subscriptions.add(topic, peer, start)
                return game, seq, missed
        raise Unavailable(f"game {game_id} kept changing while subscribing; try again")

    async def seat(self, peer: Peer, player: str) -> tuple[str, int, str] | None:
        """Subscribe a player's new connection to the game they play on any node."""
        self._seating.add(peer)  # from its player topic's subscription on: seat_remote leaves it
        try:
            live = await self.hub.storage.live_game_of(player)
            if live is None:
                return None
            game, seq, _ = await self.follow(peer, live, None, None)
            return game_topic(live), seq, game.epoch
        finally:
            self._seating.discard(peer)

    async def seat_remote(self, player: str, game_id: str) -> None:
        """A game of ``player`` started on another node: this node's connections of theirs
        follow its topic from its first event, as the starting node's do: those that were told
        (``game_started`` on their topic), so no game event comes before the news of it."""
        topic, told = game_topic(game_id), player_topic(player)
        for peer in list(self.hub._peers.get(player, ())):
            if topic in peer.topics or told not in peer.topics or peer in self._seating:
                continue  # seated already, or its ``auth`` (under way) seats it
            if peer.closing:
                continue
            try:
                _, _, missed = await self.follow(peer, game_id, None, None, whole=True)
            except ProtocolError as exc:
                log.info("seating %s in game %s here failed: %s", player, game_id, exc)
                continue
            for frame in missed or ():  # before any live event: no await since subscribing
                peer.send(frame)
