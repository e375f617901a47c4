"""A cluster node: ``GameHub`` as one of several processes on one PostgreSQL and one Redis.

A node is the same ``GameHub`` as one process, built from the cluster's parts (``presence``:
``hub.cluster.presence``, ``feed``: ``hub.cluster.feed``, ``games``: ``hub.cluster.games``;
identity is storage's, the same as in one process), plus what a node does around it, here.

``ClusterHub.open`` connects to Redis and builds the node and its relay; ``start`` (the app calls
it after ``GameHub.resume``) reads the lobby's snapshot, starts the relay and the node's ticks;
``close`` stops them, closes the ``GameHub`` and takes this node's connections out of presence.
The ticks, every second or so:

- **beat** (twice a second): this node's liveness key (2 s TTL), and the dead nodes'
  connections taken out of presence (their players' grace starts);
- **watchdog**: a node cut off from PostgreSQL for a few seconds closes its sockets;
- **reap**: the players whose grace is over leave; the queue is paired when it could be;
- **sweep**: the stored games past their deadline are expired (a dead node's too);
- **tidy**: topics without a subscriber here are no longer relayed, stale cached games are
  dropped, and presence is reconciled with this node's open connections (every few seconds).

``trouble`` (``/healthz``, through ``GameHub.trouble``) is set while Redis or PostgreSQL did not
answer the last tick, or the relay's connection is down: a load balancer then sends clients to
the other nodes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import WSCloseCode

from hub.broker import Broker
from hub.cluster.address import parse_broker
from hub.cluster.feed import ClusterFeed
from hub.cluster.games import ClusterGames
from hub.cluster.presence import ClusterPresence
from hub.cluster.redis_state import RedisState
from hub.cluster.relay import Relay
from hub.cluster.stats import ClusterCollector
from hub.config import Config
from hub.fanout import Subscriptions
from hub.metrics import Metrics
from hub.service import GameHub
from hub.streams import Stream
from hub.topics import event_payload
from storage.base import Storage

log = logging.getLogger(__name__)

TICK = 1.0  # seconds between a node's ticks
BEAT = 0.5  # seconds between a node's beats
LIVENESS_MS = 2000  # a node that has not beaten for this long is dead
TIDY_EVERY = 5  # ticks between tidy-ups
OUTBOX_BATCH = 256  # game-topic frames in one pipeline at most
CUT_OFF = 3.0  # seconds without PostgreSQL after which this node closes its sockets


class ClusterHub:
    """One node of a cluster hub: a ``GameHub`` built from the cluster's parts, and the node's
    own lifetime around it (its relay, its ticks, its health)."""

    def __init__(
        self,
        config: Config,
        storage: Storage,
        broker: Broker,
        subscriptions: Subscriptions,
        metrics: Metrics,
        *,
        state: RedisState,
        url: str,
    ) -> None:
        self.config = config
        self.storage = storage
        self.subscriptions = subscriptions
        self.state = state
        self.name = secrets.token_hex(4)  # this node's id
        self.feed = ClusterFeed(self)
        self.presence = ClusterPresence(self)
        self.games = ClusterGames(self)
        self.hub = GameHub(
            config,
            storage,
            broker,
            subscriptions,
            metrics,
            presence=self.presence,
            feed=self.feed,
            games=self.games,
            node=self.name,
            health=self.trouble,
        )
        self.feed.hub = self.presence.hub = self.games.hub = self.hub
        self._ticks: list[asyncio.Task[None]] = []
        self._ok = {"redis": 0.0, "postgresql": 0.0}  # monotonic time each last answered
        self._troubled_since: float | None = None
        metrics.registry.register(ClusterCollector(self))
        self.relay = Relay(
            url,
            channel=state.channel,
            deliver=self._relayed,
            catch_up=self._catch_up,
            heads=self._heads,
            reset=self._reset,
        )

    @classmethod
    async def open(
        cls,
        config: Config,
        storage: Storage,
        subscriptions: Subscriptions,
        metrics: Metrics,
        broker: Broker,
    ) -> ClusterHub:
        """Connect to the cluster's Redis (``config.broker``) and build the node."""
        assert config.broker is not None
        address = parse_broker(config.broker)
        state = await RedisState.connect(address.url, address.prefix, history=config.history)
        return cls(config, storage, broker, subscriptions, metrics, state=state, url=address.url)

    @property
    def _epochs(self) -> dict[str, str]:
        """The game topics this node's relay follows (``hub.cluster.stats`` counts them)."""
        return self.games.epochs

    @property
    def _player_streams(self) -> dict[str, Stream]:
        """The ``player:`` topics this node's relay follows (``hub.cluster.stats`` counts them)."""
        return self.feed.player_streams

    # -- lifetime --------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the cluster: the lobby's snapshot, the relay, the ticks (after
        ``GameHub.resume``, which loads no game: any node loads a game when it acts on it)."""
        await self.state.beat(self.name, LIVENESS_MS)  # listed before any connection is
        await self.relay.start()
        await self.feed.load()
        lobby = self.feed.lobby_stream
        await self.relay.watch("lobby", lobby.epoch, lobby.seq)
        self._ok = dict.fromkeys(self._ok, time.monotonic())
        for name, work, every in (
            ("beat", self._beat, BEAT),
            ("reap", self._reap, TICK / 2),
            ("sweep", self._sweep, TICK),
            ("tidy", self._tidy, TICK * TIDY_EVERY),
            ("watchdog", self._watchdog, BEAT),
        ):
            self._ticks.append(asyncio.create_task(self._every(name, work, every), name=name))
        self._ticks.append(asyncio.create_task(self._send_outbox(), name="outbox"))

    async def close(self) -> None:
        """Stop the ticks, finish work in flight (``GameHub.close``), leave presence,
        disconnect."""
        self.hub.closing = True
        for task in self._ticks:
            task.cancel()
        await asyncio.gather(*self._ticks, return_exceptions=True)
        await self.hub.close()
        try:
            async with asyncio.timeout(2):
                await self.presence.drop_node(self.name)
                await self.state.forget_node(self.name)
        except Exception as exc:  # the others notice when its liveness lapses
            log.warning("could not take this node out of presence: %s", exc)
        await self.relay.close()
        await self.state.close()

    def trouble(self) -> str | None:
        """Why this node cannot serve now (``GameHub.trouble`` asks); None when it can."""
        if not self.relay.healthy:
            return "the broker (Redis) is unavailable"
        stale = time.monotonic() - 2.5 * TICK
        for what, last in self._ok.items():
            if last < stale:
                return f"{what} did not answer"
        return None

    # -- ticks -----------------------------------------------------------------------------

    async def _every(self, name: str, work: Callable[[], Awaitable[None]], seconds: float) -> None:
        quiet_until = 0.0
        while True:
            await asyncio.sleep(seconds * random.uniform(0.8, 1.2))
            try:
                await work()
            except Exception as exc:
                now = time.monotonic()
                if now >= quiet_until:  # one line a minute at most per tick
                    log.warning("%s: %s", name, exc)
                    quiet_until = now + 60

    async def _watchdog(self) -> None:
        """Cut off from PostgreSQL for ``CUT_OFF`` seconds: close this node's sockets (1001) so
        their clients reconnect through the load balancer to a node that can serve them
        (``/healthz`` has been answering 503 meanwhile).  Without Redis alone the sockets stay:
        games go on (PostgreSQL decides them, and the other nodes' relays read their events
        from it), only lobby actions are ``unavailable``; and when Redis is down for every
        node, closing sockets would only send clients round in circles."""
        if time.monotonic() - self._ok["postgresql"] < 2.5 * TICK:
            self._troubled_since = None
            return
        now = time.monotonic()
        if self._troubled_since is None:
            self._troubled_since = now
        elif now - self._troubled_since >= CUT_OFF:
            peers = [p for peers in self.hub._peers.values() for p in peers]
            if peers:
                log.warning("cut off for %.0f s: closing %d connection(s)", CUT_OFF, len(peers))
            for peer in peers:
                peer.close(WSCloseCode.GOING_AWAY, "this node lost its database; connect again")
            self._troubled_since = now

    async def _beat(self) -> None:
        await self.state.beat(self.name, LIVENESS_MS)
        self._ok["redis"] = time.monotonic()
        for node in await self.state.dead_nodes():
            if node != self.name:
                # A node that died holding the lobby lock would stall every lobby change for
                # the lock's ttl: free it now (whatever it would still commit is fenced).
                if await self.state.break_lock(node):
                    log.info("freed the lobby lock of dead node %s", node)
                await self.presence.drop_node(node)
                await self.state.forget_node(node)
                log.info("node %s is gone; its connections left presence", node)

    async def _sweep(self) -> None:
        """Expire overdue stored games; PostgreSQL answering is this node's health too."""
        await self.games.sweep_overdue()
        self._ok["postgresql"] = time.monotonic()

    async def _reap(self) -> None:
        await self.presence.leave_due()
        if any(pool.get("waiting", 0) >= 2 for pool in self.feed.view.pools.values()):
            async with self.feed.section():
                await self.hub.pair_waiting()
                self.hub._sync_queue()

    async def _tidy(self) -> None:
        hub, table, epochs = self.hub, self.hub.table, self.games.epochs
        for topic in list(epochs):
            if not self.subscriptions.peers(topic):
                async with table.lock(topic[5:]):
                    if not self.subscriptions.peers(topic):
                        epochs.pop(topic, None)
                        await self.relay.unwatch(topic)
        streams = self.feed.player_streams
        for player, stream in list(streams.items()):
            if player not in hub._peers:
                async with table.lock(stream.topic):
                    if player not in hub._peers:
                        streams.pop(player, None)
                        await self.relay.unwatch(stream.topic)
        cached = [g for g in table.live if not table.locked(g)]
        if cached:
            heads = await self.storage.heads(cached)
            for game_id in cached:
                if heads.get(game_id) != table.seqs.get(game_id) and not table.locked(game_id):
                    hub._forget(game_id)
        await self.presence.reconcile()

    async def _send_outbox(self) -> None:
        """Publish this node's game-topic frames to the other nodes, in order: what queued up
        while the last round trip was out goes together in the next one (a pipeline)."""
        quiet_until = 0.0
        while True:
            outbox = self.games.outbox
            items = [await outbox.get()]
            while not outbox.empty() and len(items) < OUTBOX_BATCH:
                items.append(outbox.get_nowait())
            try:
                await self.state.publish_many(items)
            except Exception as exc:  # the other nodes catch up from PostgreSQL
                now = time.monotonic()
                if now >= quiet_until:
                    log.warning("publishing game events failed: %s", exc)
                    quiet_until = now + 60

    # -- the relay's callbacks -------------------------------------------------------------

    def _relayed(self, topic: str, seq: int, frame: bytes) -> None:
        """A topic's next event (the relay read its seq), in order, for this node's subscribers."""
        if topic.startswith("game:"):
            self.games.relayed(topic, seq)
            self.subscriptions.deliver(topic, frame)
            if b'"event":"game_over"' in frame:  # its last: no subscription outlives it
                self.subscriptions.finish(topic)
            return
        self.feed.relayed(topic, seq, frame)
        if topic != "lobby" and b'"event":"game_started"' in frame:
            self.hub._spawn(self._seat_here(topic, frame), "seat")
        self.subscriptions.deliver(topic, frame)

    async def _seat_here(self, topic: str, frame: bytes) -> None:
        game_id = json.loads(frame)["data"]["id"]
        await self.games.seat_remote(topic.partition(":")[2], game_id)

    async def _catch_up(self, topic: str, epoch: str, seq: int) -> list[tuple[int, bytes]] | None:
        if topic.startswith("game:"):
            if self._epochs.get(topic) != epoch:
                return None
            events = await self.storage.events(topic[5:], seq)
            return [(e.seq, event_payload(topic, e)) for e in events]
        return await self.feed.since(topic, epoch, seq)

    async def _heads(self, topics: list[str]) -> dict[str, tuple[str, int]]:
        games = [t for t in topics if t.startswith("game:")]
        out: dict[str, tuple[str, int]] = {}
        if games:
            seqs = await self.storage.heads([t[5:] for t in games])
            for t in games:
                if t in self._epochs and t[5:] in seqs:
                    out[t] = (self._epochs[t], seqs[t[5:]])
        out.update(await self.state.heads([t for t in topics if not t.startswith("game:")]))
        return out

    def _reset(self, topic: str) -> None:
        """A topic's history was lost (Redis restarted empty): its subscribers here start
        again with a snapshot.  They get nothing of the new epoch on the old subscription
        (its seqs start again at 1) and are closed with 1001 after a short random delay, so
        they do not all come back at once."""
        peers = self.subscriptions.peers(topic)
        for peer in peers:
            self.subscriptions.discard(topic, peer)
        loop = asyncio.get_running_loop()
        for peer in peers:
            delay = random.uniform(0.05, 1.0)
            loop.call_later(
                delay, peer.close, WSCloseCode.GOING_AWAY, "the topic's history was lost"
            )
        self.hub._spawn(self.feed.restart(topic), f"reset {topic}")
