"""Seeded random interleavings on a real Redis: events stored in the log, then published in order,
late (out of order, as two nodes racing to publish a game's events do), twice, or never (a node
that died between storing and publishing), some offered first by the node that made them, while
catch-ups take random time and sweeps run at random intervals.  Whatever happened, each node
delivers every topic's seqs 1..N exactly once, in order, with the log's bytes.

Each seed is one test, so a failure names the seed that reproduces it (the event loop's timing
still varies between runs).  The kit is ``test_relay``'s.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from tests.cluster.redisserver import RedisServer
from tests.cluster.test_relay import QUIET, Kit, Node, server, watch_new

__all__ = ["server"]

SEEDS = range(16)
EVENTS = 240  # per seed, over the topics
TOPICS = ("game:r", "lobby", "player:rae")


@pytest.fixture
async def kit(server: RedisServer) -> AsyncIterator[Kit]:
    made = Kit(server.url)
    yield made
    await made.close()


async def offer(node: Node, topic: str, seq: int) -> None:
    """``node`` made this event: it delivers it at once."""
    log = node.log
    await node.relay.offer(topic, log.epochs[topic], seq, log.frames[topic][seq])


@pytest.mark.parametrize("seed", SEEDS)
async def test_random_interleavings_deliver_every_seq_once_in_order(kit: Kit, seed: int) -> None:
    rng = random.Random(seed)
    log = kit.log
    log.delay = lambda: rng.choice((0.0, 0.0, 0.0005, 0.002))
    a = await kit.node(sweep_interval=rng.choice((0.01, 0.1, QUIET)))
    b = await kit.node(sweep_interval=rng.choice((0.01, 0.1, QUIET)))
    for topic in TOPICS:
        await watch_new(kit, topic, a, b)
    late: list[tuple[str, int]] = []
    offers: list[asyncio.Task[None]] = []
    fates = {"lost": 0, "late": 0, "twice": 0, "offered": 0, "published": 0}
    for _ in range(EVENTS):
        topic = rng.choice(TOPICS)
        seq = log.store(topic)
        fate = rng.random()
        if fate < 0.12:
            fates["lost"] += 1
        elif fate < 0.3:
            fates["late"] += 1
            late.append((topic, seq))
        elif fate < 0.4:
            fates["twice"] += 1
            await kit.publish(topic, seq)
            await kit.publish(topic, seq)
        elif fate < 0.6:
            fates["offered"] += 1
            if rng.random() < 0.5:
                await offer(a, topic, seq)
            else:  # the offer still on its way while later events come
                offers.append(asyncio.create_task(offer(a, topic, seq)))
            if rng.random() < 0.8:
                await kit.publish(topic, seq)
        else:
            fates["published"] += 1
            await kit.publish(topic, seq)
        if late and rng.random() < 0.35:
            await kit.publish(*late.pop(rng.randrange(len(late))))
        if rng.random() < 0.15:
            await asyncio.sleep(rng.choice((0.0, 0.001, 0.003)))
    rng.shuffle(late)
    for topic, seq in late:
        await kit.publish(topic, seq)
    await asyncio.gather(*offers)
    # One last event per topic, published after everything else: each node reads it after
    # every message above, and delivers it after every seq before it.
    for topic in TOPICS:
        await kit.emit(topic)
    for topic in TOPICS:
        await a.has(topic, log.last[topic])
        await b.has(topic, log.last[topic])
    for node in (a, b):
        for topic in TOPICS:
            assert node.exact(topic, log.last[topic]), (seed, topic, node.got[topic])
    assert min(fates.values()) > 0, fates
    assert a.relay.counters["duplicates"] > 0 and b.relay.counters["caught_up"] > 0
