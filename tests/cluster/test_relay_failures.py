"""The relay when things go wrong: an epoch changes, the log lost events or is down, Redis is
killed and restarted or stops answering.  The kit is ``test_relay``'s."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from redis.asyncio import Redis

from tests.cluster.redisserver import RedisServer
from tests.cluster.test_relay import Kit, _true, server, watch_new
from tests.conftest import eventually

__all__ = ["server"]


@pytest.fixture
async def kit(server: RedisServer) -> AsyncIterator[Kit]:
    made = Kit(server.url)
    yield made
    await made.close()


@pytest.fixture
def own() -> Iterator[RedisServer]:
    """A Redis of this test's own, to kill and restart."""
    with RedisServer() as running:
        yield running


async def test_another_epoch_resets_the_topic_once_and_later_events_flow(kit: Kit) -> None:
    a = await kit.node()
    await watch_new(kit, "lobby", a)
    old = kit.log.epochs["lobby"]
    await kit.emit("lobby")
    await kit.emit("lobby")
    await a.has("lobby", 2)
    new = kit.log.new_epoch("lobby")  # Redis lost the topic's history
    await kit.emit("lobby")
    await a.until(lambda: a.resets == ["lobby"])
    assert a.relay.cursor("lobby") == (new, 1)
    await kit.emit("lobby")
    await kit.emit("lobby")
    await a.until(lambda: len(a.got["lobby"]) == 4)
    assert a.got["lobby"] == [1, 2, 2, 3]  # the new epoch's 2 and 3 after the old 1 and 2
    assert a.resets == ["lobby"] and a.relay.counters["resets"] == 1
    assert kit.log.catch_ups == []
    assert old != new


async def test_a_late_message_of_a_retired_epoch_is_dropped(kit: Kit) -> None:
    a = await kit.node()
    await watch_new(kit, "player:bo", a)
    await kit.emit("player:bo")
    late = kit.log.message("player:bo", 1).replace(b'"seq":1,', b'"seq":2,')
    kit.log.new_epoch("player:bo")
    await kit.emit("player:bo")
    await a.until(lambda: a.resets == ["player:bo"])
    await kit.client.publish(kit.channel("player:bo"), late)  # e.g. an offer made before
    await kit.emit("player:bo")
    await a.until(lambda: len(a.got["player:bo"]) == 2)
    assert a.resets == ["player:bo"]
    assert a.relay.counters["stale"] == 1


async def test_a_log_that_lost_the_missing_events_resets_the_topic(kit: Kit) -> None:
    a = await kit.node()
    await watch_new(kit, "lobby", a)
    await kit.emit("lobby")
    for _ in range(3):
        kit.log.store("lobby")
    del kit.log.frames["lobby"][2]  # trimmed from the stream: 3 and 4 remain
    await kit.emit("lobby")
    await a.until(lambda: a.resets == ["lobby"])
    assert a.got["lobby"] == [1]
    assert a.relay.cursor("lobby") == (kit.log.epochs["lobby"], 5)
    await kit.emit("lobby")
    await a.has("lobby", 6)
    assert a.got["lobby"] == [1, 6]


async def test_a_catch_up_answering_none_resets_the_topic(kit: Kit) -> None:
    a = await kit.node()
    await watch_new(kit, "game:lost", a)
    epoch = kit.log.epochs["game:lost"]
    await kit.emit("game:lost")
    kit.log.store("game:lost")
    third = kit.log.message("game:lost", kit.log.store("game:lost"))
    kit.log.epochs["game:lost"] = "elsewhere"  # the log no longer holds the relay's epoch
    await kit.client.publish(kit.channel("game:lost"), third)
    await a.until(lambda: a.resets == ["game:lost"])
    assert kit.log.catch_ups == [("game:lost", epoch, 1)]
    assert a.got["game:lost"] == [1] and a.relay.cursor("game:lost") == (epoch, 3)


async def test_a_failing_catch_up_is_tried_again_by_the_sweep(kit: Kit) -> None:
    a = await kit.node(sweep_interval=0.05)
    await watch_new(kit, "game:f", a)
    kit.log.failing = 1
    await kit.emit("game:f")
    kit.log.store("game:f")
    await kit.emit("game:f")
    await a.has("game:f", 3)
    assert a.exact("game:f", 3)
    assert a.relay.counters["failures"] == 1 and len(kit.log.catch_ups) >= 2


async def test_redis_killed_and_restarted_events_meanwhile_are_caught_up(own: RedisServer) -> None:
    kit = Kit(own.url)
    try:
        a, b = await kit.node(), await kit.node()
        await watch_new(kit, "lobby", a, b)
        await watch_new(kit, "game:k", a)
        await kit.emit("lobby")
        await a.has("lobby", 1)
        await kit.client.aclose()
        own.kill()
        await eventually(lambda: _true(not a.relay.healthy and not b.relay.healthy))
        for _ in range(3):  # published while this node could not hear: only in the log
            kit.log.store("lobby")
            kit.log.store("game:k")
        own.start()
        kit.client = Redis.from_url(own.url)
        await eventually(lambda: _true(a.relay.healthy and b.relay.healthy))
        await a.has("lobby", 4)
        await b.has("lobby", 4)
        await a.has("game:k", 3)
        await kit.emit("lobby")  # live again, after what was caught up, once
        await a.has("lobby", 5)
        await b.has("lobby", 5)
        assert a.exact("lobby", 5) and b.exact("lobby", 5) and a.exact("game:k", 3)
        assert await kit.subscribers("lobby") == 2 and await kit.subscribers("game:k") == 1
        assert a.relay.counters["connects"] == 2 and a.relay.counters["duplicates"] == 0
    finally:
        await kit.close()


async def test_redis_that_stops_answering_is_noticed_and_left(own: RedisServer) -> None:
    kit = Kit(own.url)
    try:
        a = await kit.node(ping_interval=0.05)
        await watch_new(kit, "lobby", a)
        own.pause()
        await eventually(lambda: _true(not a.relay.healthy))
        kit.log.store("lobby")
        own.resume()
        await eventually(lambda: _true(a.relay.healthy))
        await a.has("lobby", 1)
        assert a.relay.counters["connects"] == 2
    finally:
        await kit.close()


async def test_a_node_watching_while_redis_is_down_subscribes_when_it_is_back(
    own: RedisServer,
) -> None:
    kit = Kit(own.url)
    try:
        a = await kit.node()
        own.kill()
        await eventually(lambda: _true(not a.relay.healthy))
        epoch = kit.log.new_epoch("game:late")
        await asyncio.wait_for(a.relay.watch("game:late", epoch, 0), 5)  # does not wait for Redis
        kit.log.store("game:late")
        own.start()
        kit.client = Redis.from_url(own.url)
        await a.has("game:late", 1)
        await kit.watched("game:late", 1)
        await kit.emit("game:late")
        await a.has("game:late", 2)
        assert a.exact("game:late", 2)
    finally:
        await kit.close()


async def test_a_node_redis_drops_for_reading_too_slowly_catches_up() -> None:
    with RedisServer("--client-output-buffer-limit", "pubsub 64kb 0 0") as small:
        kit = Kit(small.url)
        try:
            a = await kit.node()
            await watch_new(kit, "lobby", a)
            await kit.emit("lobby")
            for _ in range(400):  # 400 frames of 40 kB: far more than the socket buffers
                kit.log.store("lobby", size=40_000)

            def flood() -> None:
                with redis.Redis.from_url(small.url) as client, client.pipeline() as pipe:
                    for seq in range(2, 402):
                        pipe.publish(kit.channel("lobby"), kit.log.message("lobby", seq))
                    pipe.execute()

            publisher = threading.Thread(target=flood)
            a.stall = publisher.join  # this node reads nothing until all is published
            publisher.start()  # the stall comes with seq 2
            await a.has("lobby", 401)
            assert a.exact("lobby", 401)
            assert a.relay.counters["connects"] == 2 and a.relay.counters["caught_up"] > 0
        finally:
            await kit.close()
