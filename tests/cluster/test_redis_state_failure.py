"""RedisState when Redis dies, stalls or comes back empty; node liveness; due items.

Each test that kills or pauses Redis runs a ``redis-server`` of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.cluster.changes import Append, HSet, ZAdd, ZRem
from hub.cluster.redis_state import RedisState, Unavailable
from protocol.errors import ErrorCode
from tests.cluster.redisserver import RedisServer, free_port
from tests.cluster.tcpproxy import TcpProxy
from tests.conftest import eventually


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer() as running:
        yield running


@pytest.fixture
async def state(server: RedisServer) -> AsyncIterator[RedisState]:
    connected = await RedisState.connect(server.url, "t")
    yield connected
    await connected.close()


def calls(state: RedisState) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Every method that talks to Redis, with arguments."""
    return {
        "time_ms": state.time_ms,
        "acquire": lambda: state.acquire(wait=0.1),
        "release": lambda: state.release("token"),
        "extend": lambda: state.extend("token", 1000),
        "load": state.load,
        "commit": lambda: state.commit(None, b"{}", [HSet("h", "f", "v")], [event(1)]),
        "publish": lambda: state.publish("game:g", "e", b"{}"),
        "head": lambda: state.head("lobby"),
        "since": lambda: state.since("lobby", "e", 0),
        "snapshot": lambda: state.snapshot("lobby", ["h"]),
        "beat": lambda: state.beat("n1", 1000),
        "dead_nodes": state.dead_nodes,
        "forget_node": lambda: state.forget_node("n1"),
        "due": lambda: state.due("leaves", 0),
    }


def event(n: int) -> Append:
    return Append("lobby", "tick", n, f'{{"n":{n}}}')


async def test_every_method_answers_unavailable_at_once_while_redis_is_down(
    server: RedisServer, state: RedisState
) -> None:
    await state.head("lobby")  # a pooled connection that the kill breaks
    server.kill()
    for name, call in calls(state).items():
        async with asyncio.timeout(5):  # the connect timeout is 1 s: no hang
            with pytest.raises(Unavailable, match="redis is unavailable") as caught:
                await call()
        assert caught.value.code == ErrorCode.UNAVAILABLE, name
        assert isinstance(caught.value.__cause__, (RedisError, OSError)), name


async def test_connecting_where_no_redis_listens_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="redis is unavailable"):
        await RedisState.connect(f"redis://127.0.0.1:{free_port()}/0", "t")


async def test_a_stalled_redis_is_unavailable_after_the_operation_timeout(
    server: RedisServer, state: RedisState
) -> None:
    await state.load()
    server.pause()
    try:
        async with asyncio.timeout(6):  # the operation timeout is 2 s
            with pytest.raises(Unavailable, match="redis is unavailable"):
                await state.load()
    finally:
        server.resume()
    assert await state.load() is None


async def test_after_a_restart_the_same_state_works_and_topics_start_a_new_epoch_at_one(
    server: RedisServer, state: RedisState
) -> None:
    before = await state.commit(None, b"doc", [], [event(1), event(2), event(3)])
    server.restart()
    # The restart blocked the loop, so the pooled connection's close is seen only when it is
    # used: that call is unavailable, never silently retried (a commit must not run twice).
    with pytest.raises(Unavailable):
        await state.load()
    after = await state.commit(None, None, [], [event(4)])
    assert after[0].seq == 1
    assert after[0].epoch != before[0].epoch
    assert await state.since("lobby", before[0].epoch, 3) is None
    assert await state.since("lobby", after[0].epoch, 0) == [after[0].frame]
    assert await state.load() is None


async def test_a_node_that_stops_beating_is_dead_until_one_caller_forgets_it(
    state: RedisState,
) -> None:
    await state.beat("quiet", 30)
    await state.beat("alive", 60_000)

    async def only_quiet_is_dead() -> bool:
        return await state.dead_nodes() == ["quiet"]

    await eventually(only_quiet_is_dead)
    assert await asyncio.gather(state.forget_node("quiet"), state.forget_node("quiet")) in (
        [True, False],
        [False, True],
    )
    assert await state.dead_nodes() == []
    await state.beat("quiet", 60_000)  # it was only slow: beating lists it again
    assert await state.dead_nodes() == []


async def test_a_live_node_is_not_forgotten(state: RedisState) -> None:
    await state.beat("alive", 60_000)
    assert not await state.forget_node("alive")
    assert await state.dead_nodes() == []


async def test_due_gives_the_members_scored_at_or_before_now_earliest_first(
    state: RedisState,
) -> None:
    await state.commit(
        None,
        None,
        [ZAdd("leaves", "cy", 300), ZAdd("leaves", "ann", 100), ZAdd("leaves", "bob", 200)],
        [],
    )
    assert await state.due("leaves", 99) == []
    assert await state.due("leaves", 200) == ["ann", "bob"]
    assert await state.due("leaves", 10_000, limit=1) == ["ann"]
    await state.commit(None, None, [ZRem("leaves", "ann")], [])
    assert await state.due("leaves", 10_000) == ["bob", "cy"]


async def test_publish_many_fails_as_unavailable_when_redis_dies_and_works_after_its_return(
    server: RedisServer, state: RedisState
) -> None:
    await state.publish_many([("game:g", "e", b"before")])
    server.kill()
    failures = 0
    for _ in range(3):  # what was written as Redis died is lost; the writes after it fail
        try:
            await state.publish_many([("game:g", "e", b"lost")])
        except Unavailable as exc:
            assert isinstance(exc.__cause__, (RedisError, OSError))
            failures += 1
    assert failures >= 1
    server.start()
    raw = Redis.from_url(server.url)
    channel = raw.pubsub()
    await channel.subscribe(state.channel("game:g"))
    await channel.get_message(timeout=1)
    got: list[bytes] = []

    async def delivered() -> bool:
        with contextlib.suppress(Unavailable):
            await state.publish_many([("game:g", "e", b"again")])
        message = await channel.get_message(timeout=0.05)
        if message is not None and message["type"] == "message":
            got.append(message["data"])
        return bool(got)

    try:
        await eventually(delivered)
    finally:
        await channel.aclose()
        await raw.aclose()
    assert got == [b"e again"]


async def test_a_command_that_timed_out_leaves_its_connection_for_a_new_one(
    server: RedisServer,
) -> None:
    """A link that stalls without a reset (a dead router) is not used again after a timeout:
    the next command connects anew, so it works once the path does, whatever the old link."""
    proxy = await TcpProxy("127.0.0.1", server.port).start()
    state = await RedisState.connect(f"redis://127.0.0.1:{proxy.port}/0", "t")
    try:
        await state.load()
        links = proxy.accepted
        proxy.pause()
        async with asyncio.timeout(6):  # the operation timeout is 2 s
            with pytest.raises(Unavailable, match="redis is unavailable"):
                await state.load()
        proxy.resume()
        assert await state.load() is None
        assert proxy.accepted == links + 1
    finally:
        await state.close()
        await proxy.close()


async def test_publish_many_reads_the_replies_when_redis_refuses_to_keep_them_back() -> None:
    """Under an ACL user without ``client``, CLIENT REPLY OFF is refused: the frames still go
    out, and their replies are read rather than left to grow in Redis's output buffer."""
    acl = ("--user", "default", "on", "nopass", "~*", "&*", "+@all", "-client")
    with RedisServer(*acl) as server:
        state = await RedisState.connect(server.url, "t")
        raw = Redis.from_url(server.url)
        channel = raw.pubsub()
        try:
            await channel.subscribe(state.channel("game:g"))
            await channel.get_message(timeout=1)
            for n in range(5):
                await state.publish_many([("game:g", "e", b"%d" % n)])
            got: list[bytes] = []
            while len(got) < 5:
                message = await channel.get_message(timeout=2)
                assert message is not None, f"only {got}"
                if message["type"] == "message":
                    got.append(message["data"])
            assert got == [b"e %d" % n for n in range(5)]
            publisher = state._publisher

            async def read_back() -> bool:
                return publisher.replies == 5 + 1  # the refusal, then one per PUBLISH

            await eventually(read_back)
        finally:
            await channel.aclose()
            await raw.aclose()
            await state.close()


async def test_publish_many_keeps_no_replies_back_where_redis_allows_it(
    server: RedisServer, state: RedisState
) -> None:
    for n in range(5):
        await state.publish_many([("game:g", "e", b"%d" % n)])
    assert await state.load() is None  # a round trip on another connection: Redis has read all
    await asyncio.sleep(0.05)
    assert state._publisher.replies == 0
