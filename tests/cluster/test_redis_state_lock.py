"""The lobby lock of RedisState on a real Redis: exclusive across nodes, fenced once it is lost."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from hub.cluster.changes import Append, HSet
from hub.cluster.redis_state import Busy, Fenced, RedisState
from tests.cluster.redisserver import RedisServer


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as running:
        yield running


@pytest.fixture
async def nodes(server: RedisServer) -> AsyncIterator[list[RedisState]]:
    """Two RedisStates on one prefix: two nodes of one hub."""
    prefix = f"t{secrets.token_hex(6)}"
    connected = [await RedisState.connect(server.url, prefix) for _ in range(2)]
    yield connected
    for state in connected:
        await state.close()


@pytest.fixture
async def raw(server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(server.url)
    yield client
    await client.aclose()


async def test_two_nodes_racing_for_the_lock_never_both_hold_it(nodes: list[RedisState]) -> None:
    holders: list[str] = []
    turns = 0

    async def contender(state: RedisState, name: str) -> None:
        nonlocal turns
        for _ in range(15):
            token = await state.acquire(wait=30)
            holders.append(name)
            assert len(holders) == 1, f"{holders} hold the lock together"
            await state.time_ms()  # yield to the loop (and to Redis) while holding it
            await asyncio.sleep(0)
            holders.remove(name)
            turns += 1
            assert await state.release(token)

    await asyncio.gather(
        *(contender(nodes[i % 2], f"{i % 2}.{i}") for i in range(6)),
    )
    assert turns == 90


async def test_acquire_is_busy_when_the_lock_stays_taken(nodes: list[RedisState]) -> None:
    await nodes[0].acquire(ttl_ms=60_000)
    with pytest.raises(Busy, match="the lobby is busy"):
        await nodes[1].acquire(wait=0.05)


async def test_an_expired_lock_goes_to_another_node_and_fences_the_old_holder(
    nodes: list[RedisState], raw: Redis
) -> None:
    old = await nodes[0].acquire(ttl_ms=50)
    new = await nodes[1].acquire(wait=10)  # succeeds once the old lock expires
    assert new != old
    with pytest.raises(Fenced):
        await nodes[0].commit(old, b"stale", [HSet("h", "f", "v")], [Append("lobby", "e", 1, "{}")])
    with pytest.raises(Fenced):
        await nodes[0].extend(old, 60_000)
    assert not await nodes[0].release(old)
    assert await nodes[0].load() is None
    assert not await raw.exists(nodes[0].key("h"), nodes[0].key("meta", "lobby"))
    assert (await nodes[1].commit(new, b"fresh", [], []), await nodes[1].load()) == ([], b"fresh")


async def test_a_released_lock_is_free_at_once_and_a_stale_release_frees_nothing(
    nodes: list[RedisState],
) -> None:
    first = await nodes[0].acquire()
    assert await nodes[0].release(first)
    second = await nodes[1].acquire(wait=0)
    assert not await nodes[0].release(first)
    with pytest.raises(Busy):
        await nodes[0].acquire(wait=0)
    assert await nodes[1].release(second)


async def test_extend_gives_the_holder_a_fresh_ttl(nodes: list[RedisState], raw: Redis) -> None:
    token = await nodes[0].acquire(ttl_ms=1_000)
    await nodes[0].extend(token, 60_000)
    assert await raw.pttl(nodes[0].key("lobby", "lock")) > 1_000


async def test_a_commit_without_a_token_is_not_fenced_by_a_lock_held_elsewhere(
    nodes: list[RedisState],
) -> None:
    await nodes[0].acquire(ttl_ms=60_000)
    (published,) = await nodes[1].commit(None, None, [], [Append("player:ann", "e", 1, "{}")])
    assert published.seq == 1


async def test_acquire_and_load_takes_the_lock_and_reads_the_document_in_one_command(
    nodes: list[RedisState],
) -> None:
    await nodes[1].release(await nodes[1].acquire())  # its script is loaded now
    await nodes[0].commit(None, b"doc", [], [])
    before = nodes[1].commands
    token, document = await nodes[1].acquire_and_load()
    assert (document, nodes[1].commands - before) == (b"doc", 1)
    with pytest.raises(Busy):
        await nodes[0].acquire_and_load(wait=0)
    await nodes[1].commit(token, b"doc 2", [], [])
    assert await nodes[1].release(token)
    assert (await nodes[0].acquire_and_load(wait=0))[1] == b"doc 2"


async def test_a_commit_that_releases_frees_the_lock_in_the_same_step(
    nodes: list[RedisState],
) -> None:
    token, _ = await nodes[0].acquire_and_load()
    await nodes[0].commit(token, b"doc", [], [Append("lobby", "e", 1, "{}")], release=True)
    assert not await nodes[0].release(token)
    other = await nodes[1].acquire(wait=0)
    with pytest.raises(Fenced):
        await nodes[0].commit(token, b"late", [], [], release=True)
    assert await nodes[1].release(other)
    assert await nodes[1].load() == b"doc"


async def test_only_a_commit_with_a_token_may_release(nodes: list[RedisState]) -> None:
    with pytest.raises(ValueError, match="with its token"):
        await nodes[0].commit(None, b"doc", [], [], release=True)
    assert await nodes[0].load() is None


async def test_a_dead_owners_lock_is_broken_at_once_and_its_late_commit_is_fenced(
    nodes: list[RedisState],
) -> None:
    dead, alive = nodes
    token = await dead.acquire(ttl_ms=60_000, owner="n1")
    assert token.startswith("n1/")
    assert not await alive.break_lock("n2"), "another owner's lock was broken"
    assert not await alive.break_lock("n"), "a prefix of the owner is not the owner"
    with pytest.raises(Busy):
        await alive.acquire(wait=0.05)
    assert await alive.break_lock("n1")
    mine = await alive.acquire(wait=0.05, owner="n2")
    with pytest.raises(Fenced):
        await dead.commit(token, b"late", [], [])
    assert await alive.load() is None
    assert await alive.release(mine)
    with pytest.raises(ValueError, match="owner"):
        await alive.break_lock("a/b")


async def test_publish_many_sends_each_frame_in_order_in_one_write(
    nodes: list[RedisState], raw: Redis
) -> None:
    state = nodes[0]
    channel = raw.pubsub()
    await channel.subscribe(state.channel("game:g1"), state.channel("game:g2"))
    await channel.get_message(timeout=1)
    await channel.get_message(timeout=1)
    items = [("game:g1", "e1", b"one"), ("game:g2", "e2", b"two"), ("game:g1", "e1", b"three")]
    before = state.commands
    await state.publish_many(items)
    assert state.commands - before == 1
    got: list[bytes] = []
    while len(got) < 3:
        message = await channel.get_message(timeout=2)
        assert message is not None, f"only {got}"
        if message["type"] == "message":
            got.append(message["data"])
    assert got == [b"e1 one", b"e2 two", b"e1 three"]
    await channel.aclose()
