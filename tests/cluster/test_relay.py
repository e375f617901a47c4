"""The relay on a real Redis: nodes (Relays in this process), a publisher doing real PUBLISHes of
``<epoch> <frame>``, and a dict standing for the topics' logs (PostgreSQL, the Redis streams)
behind ``catch_up`` and ``heads``.

One private ``redis-server`` for the module; each test's channels have a prefix of their own.
The kit here (``Log``, ``Node``, ``Kit``) serves the other ``test_relay_*`` modules too.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from hub.cluster.relay import Relay, parse_seq
from protocol.messages import encode_data, encode_event_text
from tests.cluster.redisserver import RedisServer
from tests.conftest import eventually

QUIET = 3600.0  # a sweep interval that never comes within a test


class Log:
    """The topics' logs: what ``catch_up`` reads and ``heads`` tells."""

    def __init__(self) -> None:
        self.epochs: dict[str, str] = {}
        self.frames: dict[str, dict[int, bytes]] = {}
        self.last: dict[str, int] = {}
        self.catch_ups: list[tuple[str, str, int]] = []
        self.heads_asked: list[list[str]] = []
        self.gate: asyncio.Event | None = None  # while unset, catch_up waits for it
        self.failing = 0  # catch_up calls still to raise
        self.delay: Callable[[], float] = lambda: 0.0  # seconds each catch_up takes

    def new_epoch(self, topic: str) -> str:
        """The topic's history is lost: a new epoch, from seq 1."""
        self.epochs[topic] = secrets.token_urlsafe(8)
        self.frames[topic] = {}
        self.last[topic] = 0
        return self.epochs[topic]

    def store(self, topic: str, size: int = 0) -> int:
        """Number and keep the topic's next event (``size`` more bytes of data); its seq."""
        if topic not in self.epochs:
            self.new_epoch(topic)
        seq = self.last[topic] + 1
        self.last[topic] = seq
        data = encode_data({"n": seq, "topic": topic, "pad": "x" * size})
        ts = 1_700_000_000_000 + seq
        self.frames[topic][seq] = encode_event_text(topic, seq, ts, "tick", data)
        return seq

    def message(self, topic: str, seq: int) -> bytes:
        """What a node publishes for the event: ``<epoch> <frame>``."""
        return self.epochs[topic].encode() + b" " + self.frames[topic][seq]

    async def catch_up(self, topic: str, epoch: str, seq: int) -> list[tuple[int, bytes]] | None:
        """What followed ``seq``, read now; the answer arrives after the gate and the delay."""
        self.catch_ups.append((topic, epoch, seq))
        frames = self.frames.get(topic, {})
        found = [(s, frames[s]) for s in sorted(frames) if s > seq]
        known = self.epochs.get(topic) == epoch
        if self.gate is not None:
            await self.gate.wait()
        pause = self.delay()
        if pause:
            await asyncio.sleep(pause)
        if self.failing:
            self.failing -= 1
            raise ConnectionError("the log is unavailable")
        return found if known else None

    async def heads(self, topics: list[str]) -> dict[str, tuple[str, int]]:
        self.heads_asked.append(list(topics))
        return {t: (self.epochs[t], self.last[t]) for t in topics if t in self.epochs}


class Node:
    """A node's relay and what it delivered to its subscribers."""

    def __init__(self, url: str, log: Log, prefix: str, **options: Any) -> None:
        self.log = log
        self.got: dict[str, list[int]] = collections.defaultdict(list)
        self.frames: dict[str, list[bytes]] = collections.defaultdict(list)
        self.resets: list[str] = []
        self.broken: set[int] = set()  # seqs whose delivery raises
        self.stall: Callable[[], object] | None = None  # run (blocking) at the next delivery
        self.changed = asyncio.Event()
        options.setdefault("sweep_interval", QUIET)
        options.setdefault("ping_interval", 0.2)
        self.relay = Relay(
            url,
            channel=lambda topic: f"{prefix}:chan:{topic}",
            deliver=self.deliver,
            catch_up=log.catch_up,
            heads=log.heads,
            reset=self.reset,
            **options,
        )

    def deliver(self, topic: str, seq: int, frame: bytes) -> None:
        assert seq == parse_seq(frame), f"delivered as seq {seq}: {frame!r}"
        self.got[topic].append(seq)
        self.frames[topic].append(frame)
        self.changed.set()
        if self.stall is not None:
            stall, self.stall = self.stall, None
            stall()
        if seq in self.broken:
            raise RuntimeError("a subscriber's bug")

    def reset(self, topic: str) -> None:
        self.resets.append(topic)
        self.changed.set()

    async def until(self, check: Callable[[], bool]) -> None:
        """Wait (5 s at most) until ``check()`` holds after a delivery or a reset."""
        async with asyncio.timeout(5):
            while not check():
                self.changed.clear()
                await self.changed.wait()

    async def has(self, topic: str, seq: int) -> None:
        """Wait until ``seq`` of ``topic`` was delivered here."""
        await self.until(lambda: seq in self.got[topic])

    def exact(self, topic: str, last: int) -> bool:
        """Delivered ``1..last`` once each, in order, the log's bytes."""
        frames = self.log.frames[topic]
        want = list(range(1, last + 1))
        return self.got[topic] == want and self.frames[topic] == [frames[s] for s in want]


class Kit:
    """Nodes on one Redis, a publisher, and the log."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"t{secrets.token_hex(6)}"
        self.log = Log()
        self.client = Redis.from_url(url)
        self.nodes: list[Node] = []

    async def node(self, **options: Any) -> Node:
        """A started node, connected."""
        node = Node(self.url, self.log, self.prefix, **options)
        self.nodes.append(node)
        await node.relay.start()
        await eventually(lambda: _true(node.relay.healthy))
        return node

    def channel(self, topic: str) -> str:
        return f"{self.prefix}:chan:{topic}"

    async def publish(self, topic: str, seq: int) -> None:
        """Publish a stored event, as the node that made it does."""
        await self.client.publish(self.channel(topic), self.log.message(topic, seq))

    async def emit(self, topic: str) -> int:
        """Store the topic's next event and publish it."""
        seq = self.log.store(topic)
        await self.publish(topic, seq)
        return seq

    async def subscribers(self, topic: str) -> int:
        """Redis' count of connections subscribed to the topic's channel."""
        counts = await self.client.pubsub_numsub(self.channel(topic))
        return int(counts[0][1])

    async def watched(self, topic: str, nodes: int) -> None:
        """Wait until ``nodes`` connections are subscribed to the topic's channel."""

        async def check() -> bool:
            return await self.subscribers(topic) == nodes

        await eventually(check)

    async def close(self) -> None:
        for node in self.nodes:
            await node.relay.close()
        await self.client.aclose()


async def _true(value: bool) -> bool:
    return value


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as running:
        yield running


@pytest.fixture
async def kit(server: RedisServer) -> AsyncIterator[Kit]:
    made = Kit(server.url)
    yield made
    await made.close()


async def watch_new(kit: Kit, topic: str, *nodes: Node) -> None:
    """Every node watches an empty topic; subscribed, and its head asked (as each node does once
    Redis confirms a subscription), when this returns."""
    epoch = kit.log.new_epoch(topic)
    for node in nodes:
        await node.relay.watch(topic, epoch, 0)
    await kit.watched(topic, len(nodes))
    asked = kit.log.heads_asked
    await eventually(lambda: _true(sum(topic in call for call in asked) >= len(nodes)))


async def test_published_events_reach_every_node_in_order(kit: Kit) -> None:
    a, b = await kit.node(), await kit.node()
    await watch_new(kit, "lobby", a, b)
    for _ in range(50):
        await kit.emit("lobby")
    await a.has("lobby", 50)
    await b.has("lobby", 50)
    assert a.exact("lobby", 50) and b.exact("lobby", 50)
    assert a.relay.counters["received"] == 50 and a.relay.counters["delivered"] == 50
    assert kit.log.catch_ups == []


async def test_an_offer_is_delivered_at_once_and_its_echo_dropped(kit: Kit) -> None:
    a = await kit.node()
    await watch_new(kit, "game:g1", a)
    seq = kit.log.store("game:g1")
    await a.relay.offer("game:g1", kit.log.epochs["game:g1"], seq, kit.log.frames["game:g1"][seq])
    assert a.got["game:g1"] == [1]  # before anything was read from Redis
    await kit.publish("game:g1", seq)
    await kit.emit("game:g1")
    await a.has("game:g1", 2)
    assert a.exact("game:g1", 2)
    assert a.relay.counters["duplicates"] == 1
    assert a.relay.cursor("game:g1") == (kit.log.epochs["game:g1"], 2)


async def test_an_offer_past_a_gap_is_delivered_after_the_gap(kit: Kit) -> None:
    a = await kit.node()
    await watch_new(kit, "game:g2", a)
    kit.log.store("game:g2")  # stored by another node, not published yet
    seq = kit.log.store("game:g2")
    await a.relay.offer("game:g2", kit.log.epochs["game:g2"], seq, kit.log.frames["game:g2"][seq])
    assert a.exact("game:g2", 2)
    assert kit.log.catch_ups == [("game:g2", kit.log.epochs["game:g2"], 0)]


async def test_a_skipped_publish_is_caught_up_on_the_next_message(kit: Kit) -> None:
    a, b = await kit.node(), await kit.node()
    await watch_new(kit, "lobby", a, b)
    await kit.emit("lobby")
    kit.log.store("lobby")  # a node stored it and died before publishing it
    await kit.emit("lobby")
    await a.has("lobby", 3)
    await b.has("lobby", 3)
    assert a.exact("lobby", 3) and b.exact("lobby", 3)
    epoch = kit.log.epochs["lobby"]
    assert kit.log.catch_ups == [("lobby", epoch, 1), ("lobby", epoch, 1)]
    # The log already held 3 as well: it came with the catch-up, its message was then a duplicate.
    assert a.relay.counters["caught_up"] == 2 and a.relay.counters["duplicates"] == 1


async def test_a_skipped_publish_is_caught_up_by_the_sweep_when_nothing_follows(kit: Kit) -> None:
    a = await kit.node(sweep_interval=0.05)
    await watch_new(kit, "lobby", a)
    await kit.emit("lobby")
    kit.log.store("lobby")
    await a.has("lobby", 2)
    assert a.exact("lobby", 2)
    assert a.relay.counters["caught_up"] == 1


async def test_a_message_during_a_slow_catch_up_waits_behind_it(kit: Kit) -> None:
    a = await kit.node()
    await watch_new(kit, "game:slow", a)
    await watch_new(kit, "game:other", a)
    kit.log.gate = asyncio.Event()
    await kit.emit("game:slow")
    kit.log.store("game:slow")
    await kit.emit("game:slow")  # a gap: the log's answer (2, 3) is held at the gate
    await kit.publish("game:slow", 2)  # the next seq, late: it waits behind the catch-up too
    await kit.emit("game:slow")  # 4: not in the log's answer, only here
    await kit.emit("game:other")  # another topic keeps flowing meanwhile
    await a.has("game:other", 1)
    assert a.relay.counters["received"] == 5 and a.got["game:slow"] == [1]
    kit.log.gate.set()
    await a.has("game:slow", 4)
    assert a.exact("game:slow", 4)
    assert len(kit.log.catch_ups) == 1 and a.relay.counters["caught_up"] == 2


async def test_an_offer_during_a_slow_catch_up_waits_behind_it(kit: Kit) -> None:
    a = await kit.node()
    await watch_new(kit, "game:o", a)
    kit.log.gate = asyncio.Event()
    first = kit.log.store("game:o")  # made here, its offer not yet done
    await kit.emit("game:o")  # 2, from another node: the log's answer (1, 2) is held
    await eventually(lambda: _true(len(kit.log.catch_ups) == 1))
    frame = kit.log.frames["game:o"][first]
    offered = asyncio.create_task(a.relay.offer("game:o", kit.log.epochs["game:o"], 1, frame))
    await asyncio.sleep(0)  # the offer runs up to where it waits
    assert not offered.done() and a.got["game:o"] == []
    kit.log.gate.set()
    await offered
    assert a.exact("game:o", 2)
    seq = kit.log.store("game:o")
    await a.relay.offer("game:o", kit.log.epochs["game:o"], seq, kit.log.frames["game:o"][seq])
    assert a.exact("game:o", 3)


async def test_unwatch_unsubscribes_and_stops_delivery(kit: Kit) -> None:
    a = await kit.node()
    await watch_new(kit, "player:ann", a)
    await watch_new(kit, "lobby", a)
    await kit.emit("player:ann")
    await a.has("player:ann", 1)
    await a.relay.unwatch("player:ann")
    await kit.watched("player:ann", 0)
    assert a.relay.cursor("player:ann") is None
    await kit.emit("player:ann")
    await kit.emit("lobby")  # published after it on the same connection: read after it
    await a.has("lobby", 1)
    assert a.got["player:ann"] == [1]
    assert a.relay.counters["received"] == 2


async def test_a_node_subscribes_a_topic_once_however_many_watch_it(kit: Kit) -> None:
    a, b = await kit.node(), await kit.node()
    epoch = kit.log.new_epoch("game:many")
    for node in (a, b):
        for _ in range(5):  # five local subscribers
            await node.relay.watch("game:many", epoch, 0)
    await kit.watched("game:many", 2)
    for _ in range(10):
        await kit.emit("game:many")
    await a.has("game:many", 10)
    await b.has("game:many", 10)
    assert a.exact("game:many", 10) and b.exact("game:many", 10)
    assert a.relay.counters["received"] == 10 and b.relay.counters["received"] == 10


async def test_a_watch_ahead_of_the_cursor_catches_up_to_it(kit: Kit) -> None:
    a = await kit.node()
    await watch_new(kit, "game:w", a)
    for _ in range(3):
        kit.log.store("game:w")
    cursor = await a.relay.watch("game:w", kit.log.epochs["game:w"], 3)
    assert cursor == (kit.log.epochs["game:w"], 3)
    assert a.exact("game:w", 3)


async def test_a_raising_deliver_does_not_stop_the_relay(
    kit: Kit, caplog: pytest.LogCaptureFixture
) -> None:
    a = await kit.node()
    a.broken = {2}
    await watch_new(kit, "lobby", a)
    with caplog.at_level(logging.ERROR, logger="hub.cluster.relay"):
        for _ in range(4):
            await kit.emit("lobby")
        await a.has("lobby", 4)
    assert a.exact("lobby", 4)
    assert any("delivering lobby 2 failed" in r.getMessage() for r in caplog.records)


async def test_close_ends_catch_ups_and_their_waiting_offers(kit: Kit) -> None:
    a = await kit.node()
    await watch_new(kit, "game:c", a)
    kit.log.gate = asyncio.Event()  # never opened
    kit.log.store("game:c")
    seq = kit.log.store("game:c")
    frame = kit.log.frames["game:c"][seq]
    offered = asyncio.create_task(a.relay.offer("game:c", kit.log.epochs["game:c"], seq, frame))
    await eventually(lambda: _true(len(kit.log.catch_ups) == 1))
    await a.relay.unwatch("game:c")  # its catch-up still under way
    await a.relay.close()
    async with asyncio.timeout(5):
        await offered
    assert a.got["game:c"] == []
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("relay")]
