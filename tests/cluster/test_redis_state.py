"""RedisState on a real Redis: frames, seqs and epochs, atomic commits, recovery with since.

One private ``redis-server`` for the module; each test has keys under a prefix of its own.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from hub.cluster.changes import (
    Append,
    Del,
    HDel,
    HSet,
    IfHas,
    Op,
    Published,
    SAdd,
    SRem,
    ZAdd,
    ZRem,
)
from hub.cluster.redis_state import Fenced, RedisState, Unavailable
from protocol.messages import encode_data, encode_event_text
from tests.cluster.redisserver import RedisServer


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as running:
        yield running


@pytest.fixture
async def state(server: RedisServer) -> AsyncIterator[RedisState]:
    connected = await RedisState.connect(server.url, f"t{secrets.token_hex(6)}")
    yield connected
    await connected.close()


@pytest.fixture
async def raw(server: RedisServer) -> AsyncIterator[Redis]:
    """A plain client, to look at what RedisState wrote."""
    client = Redis.from_url(server.url)
    yield client
    await client.aclose()


class Listener:
    """A plain redis-py pattern subscriber to every topic channel of one RedisState."""

    def __init__(self, client: Redis, state: RedisState) -> None:
        self.pubsub = client.pubsub()
        self.state = state

    async def start(self) -> None:
        await self.pubsub.psubscribe(self.state.channel("*"))
        async with asyncio.timeout(5):  # subscribed once Redis confirms, not when sent
            while await self.pubsub.get_message(timeout=1) is None:
                pass

    async def next(self) -> tuple[str, bytes]:
        """The next message: (topic, ``<epoch> <frame>``)."""
        async with asyncio.timeout(5):
            while True:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    return self.state.topic_of(message["channel"]), message["data"]


@pytest.fixture
async def listener(raw: Redis, state: RedisState) -> AsyncIterator[Listener]:
    started = Listener(raw, state)
    await started.start()
    yield started
    await started.pubsub.aclose()


def event(topic: str, n: int) -> Append:
    return Append(topic, "tick", 1_700_000_000_000 + n, encode_data({"n": n}))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    topics=st.lists(st.text(min_size=1), min_size=1, max_size=3, unique=True),
    picks=st.lists(
        st.tuples(st.integers(0, 2), st.text(), st.integers(0, 2**53), json_values),
        min_size=1,
        max_size=6,
    ),
)
async def test_frames_are_the_bytes_encode_event_text_makes_in_the_log_and_on_the_channel(
    server: RedisServer, topics: list[str], picks: list[tuple[int, str, int, object]]
) -> None:
    state = await RedisState.connect(server.url, f"h{secrets.token_hex(6)}")
    client = Redis.from_url(server.url)
    listener = Listener(client, state)
    try:
        await listener.start()
        events = [
            Append(topics[i % len(topics)], name, ts, encode_data(data))
            for i, name, ts, data in picks
        ]
        published = await state.commit(None, None, [], events)
        expected = {topic: 0 for topic in topics}
        for sent, got in zip(events, published, strict=True):
            expected[sent.topic] += 1
            seq = expected[sent.topic]
            frame = encode_event_text(sent.topic, seq, sent.ts, sent.event, sent.data)
            assert got == Published(sent.topic, got.epoch, seq, frame)
            assert await listener.next() == (sent.topic, got.epoch.encode() + b" " + frame)
        for topic in {sent.topic for sent in events}:
            epoch = (await state.head(topic))[0]
            logged = [p.frame for p in published if p.topic == topic]
            assert await state.since(topic, epoch, 0) == logged
    finally:
        await listener.pubsub.aclose()
        await client.aclose()
        await state.close()


async def test_seqs_rise_by_one_per_topic_from_one_and_each_topic_keeps_its_epoch(
    state: RedisState,
) -> None:
    seen: dict[str, list[tuple[str, int]]] = {"lobby": [], "player:ann": []}
    for n in range(5):
        for published in await state.commit(
            None, None, [], [event("lobby", n), event("player:ann", n), event("lobby", n)]
        ):
            seen[published.topic].append((published.epoch, published.seq))
    lobby_epoch, ann_epoch = seen["lobby"][0][0], seen["player:ann"][0][0]
    assert seen["lobby"] == [(lobby_epoch, seq) for seq in range(1, 11)]
    assert seen["player:ann"] == [(ann_epoch, seq) for seq in range(1, 6)]
    assert lobby_epoch != ann_epoch
    assert " " not in lobby_epoch
    assert await state.head("lobby") == (lobby_epoch, 10)


async def test_a_seq_of_fifteen_digits_is_written_in_full(state: RedisState, raw: Redis) -> None:
    (first,) = await state.commit(None, None, [], [event("lobby", 0)])
    await raw.hset(state.key("meta", "lobby"), "seq", 123_456_789_012_344)
    (published,) = await state.commit(None, None, [], [event("lobby", 1)])
    assert published.seq == 123_456_789_012_345
    sent = event("lobby", 1)
    assert published.frame == encode_event_text(
        "lobby", 123_456_789_012_345, sent.ts, sent.event, sent.data
    )
    assert await state.since("lobby", first.epoch, 123_456_789_012_344) == [published.frame]


async def test_a_topic_never_appended_to_gets_an_epoch_and_seq_zero_that_stay(
    state: RedisState,
) -> None:
    epoch, seq = await state.head("player:bob")
    assert seq == 0
    assert await state.head("player:bob") == (epoch, 0)
    (published,) = await state.commit(None, None, [], [event("player:bob", 1)])
    assert (published.epoch, published.seq) == (epoch, 1)
    assert await state.since("player:bob", epoch, 0) == [published.frame]


async def test_a_commit_that_forgets_a_topic_drops_it_in_the_same_step_as_its_events(
    state: RedisState, raw: Redis, listener: Listener
) -> None:
    # A player's last events and the lobby's player_left, then their topic goes: whoever hears
    # player_left finds the topic gone already, and the next event starts a new epoch at seq 1.
    (joined,) = await state.commit(None, None, [], [event("player:pat", 0)])
    last, left = await state.commit(
        None, None, [], [event("player:pat", 1), event("lobby", 2)], forget=["player:pat"]
    )
    assert (last.epoch, last.seq) == (joined.epoch, 2)
    heard = [await listener.next() for _ in range(3)]
    assert heard[-1] == ("lobby", left.epoch.encode() + b" " + left.frame)
    keys = (state.key("meta", "player:pat"), state.key("log", "player:pat"))
    assert await raw.exists(*keys) == 0
    assert await raw.exists(state.key("meta", "lobby")) == 1
    (again,) = await state.commit(None, None, [], [event("player:pat", 3)])
    assert again.epoch != joined.epoch and again.seq == 1


async def test_heads_reads_many_topics_in_one_round_trip_and_leaves_out_unknown_ones(
    state: RedisState,
) -> None:
    published = await state.commit(
        None, None, [], [event("lobby", 0), event("player:cy", 0), event("lobby", 1)]
    )
    epoch_of = {p.topic: p.epoch for p in published}
    before = state.commands
    heads = await state.heads(["lobby", "player:cy", "player:nobody"])
    assert heads == {"lobby": (epoch_of["lobby"], 2), "player:cy": (epoch_of["player:cy"], 1)}
    assert state.commands - before == 1
    assert await state.heads([]) == {}


async def test_commits_from_two_tasks_reach_the_channel_whole_and_in_seq_order(
    state: RedisState, listener: Listener
) -> None:
    async def writer(name: str) -> None:
        for n in range(30):
            events = [event("lobby", n), event(f"player:{name}", n), event("lobby", n)]
            await state.commit(None, None, [], events)

    await asyncio.gather(writer("ann"), writer("bob"))
    lobby_seqs = []
    for _ in range(60):
        commit = [await listener.next() for _ in range(3)]
        assert [topic for topic, _ in commit] in (
            ["lobby", "player:ann", "lobby"],
            ["lobby", "player:bob", "lobby"],
        )
        for topic, message in commit:
            if topic == "lobby":
                lobby_seqs.append(json.loads(message.partition(b" ")[2])["seq"])
    assert lobby_seqs == list(range(1, 121))


async def test_a_fenced_commit_writes_nothing_and_publishes_nothing(
    state: RedisState, raw: Redis, listener: Listener
) -> None:
    token = await state.acquire()
    ops: list[Op] = [HSet("seats", "ann", "g1"), ZAdd("leaves", "ann", 5)]
    (before,) = await state.commit(token, b'{"v":1}', ops, [event("lobby", 1)])
    await listener.next()
    with pytest.raises(Fenced):
        await state.commit(
            "not-the-token",
            b'{"v":2}',
            [HSet("seats", "bob", "g2"), Del("leaves"), SAdd("queue", "bob")],
            [event("lobby", 2), event("player:bob", 2)],
        )
    assert await state.load() == b'{"v":1}'
    assert await raw.hgetall(state.key("seats")) == {b"ann": b"g1"}
    assert await raw.zrange(state.key("leaves"), 0, -1) == [b"ann"]
    assert not await raw.exists(state.key("queue"), state.key("meta", "player:bob"))
    assert await state.head("lobby") == (before.epoch, 1)
    assert await state.since("lobby", before.epoch, 0) == [before.frame]
    await state.publish("lobby", "marker", b"after")  # the first message after the fenced commit
    assert await listener.next() == ("lobby", b"marker after")


async def test_ops_write_hashes_sets_and_sorted_sets_in_order(
    state: RedisState, raw: Redis
) -> None:
    await state.commit(
        None,
        None,
        [
            HSet("h", "a", "1"),
            HSet("h", "b", b"\x00\xff"),
            HDel("h", "a"),
            SAdd("s", "x"),
            SAdd("s", "y"),
            SRem("s", "x"),
            ZAdd("z", "p", 1.5),
            ZAdd("z", "q", 1_700_000_000_000),
            ZRem("z", "p"),
            SAdd("gone", "x"),
            Del("gone"),
            HSet("gone", "now", "a hash"),
        ],
        [],
    )
    assert await raw.hgetall(state.key("h")) == {b"b": b"\x00\xff"}
    assert await raw.smembers(state.key("s")) == {b"y"}
    assert await raw.zrange(state.key("z"), 0, -1, withscores=True) == [(b"q", 1.7e12)]
    assert await raw.hgetall(state.key("gone")) == {b"now": b"a hash"}


async def test_a_commit_whose_ifhas_does_not_hold_writes_and_publishes_nothing(
    state: RedisState, raw: Redis
) -> None:
    channel = raw.pubsub()
    await channel.subscribe(state.channel("lobby"))
    await channel.get_message(timeout=1)
    (first,) = await state.commit(None, None, [HSet("sums", "g1", "v1")], [event("lobby", 0)])
    updated = await state.commit(
        None, None, [IfHas("sums", "g1"), HSet("sums", "g1", "v2")], [event("lobby", 1)]
    )
    assert [p.seq for p in updated] == [2]
    await state.commit(None, None, [HDel("sums", "g1")], [event("lobby", 2)])
    late = await state.commit(
        None, None, [IfHas("sums", "g1"), HSet("sums", "g1", "v3")], [event("lobby", 3)]
    )
    assert late == []
    assert await raw.hgetall(state.key("sums")) == {}
    assert await state.head("lobby") == (first.epoch, 3)
    seen = []
    while (message := await channel.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            seen.append(message["data"].split(b" ", 1)[1])
    assert len(seen) == 3 and seen == await state.since("lobby", first.epoch, 0)
    await channel.aclose()


async def test_an_op_on_a_key_of_another_type_refuses_the_whole_commit(
    state: RedisState, raw: Redis
) -> None:
    await state.commit(None, b"old", [SAdd("s", "x")], [])
    with pytest.raises(Unavailable, match="is a set, hset needs a hash"):
        await state.commit(
            None, b"new", [HSet("h", "f", "v"), HSet("s", "f", "v")], [event("lobby", 1)]
        )
    assert await state.load() == b"old"
    assert not await raw.exists(state.key("h"), state.key("meta", "lobby"))


def test_a_score_that_is_not_a_number_is_refused_before_it_reaches_redis() -> None:
    with pytest.raises(ValueError, match="NaN"):
        ZAdd("z", "m", float("nan"))


async def test_since_gives_the_frames_after_seq_or_none_when_it_cannot(state: RedisState) -> None:
    published = await state.commit(None, None, [], [event("lobby", n) for n in range(5)])
    epoch = published[0].epoch
    assert await state.since("lobby", epoch, 2) == [p.frame for p in published[2:]]
    assert await state.since("lobby", epoch, 0) == [p.frame for p in published]
    assert await state.since("lobby", epoch, 5) == []
    assert await state.since("lobby", epoch, 6) is None
    assert await state.since("lobby", epoch, -1) is None
    assert await state.since("lobby", "another-epoch", 2) is None
    assert await state.since("player:nobody", epoch, 0) is None


async def test_since_is_none_once_the_log_was_trimmed_past_seq(server: RedisServer) -> None:
    state = await RedisState.connect(server.url, f"t{secrets.token_hex(6)}", history=10)
    try:
        published = await state.commit(None, None, [], [event("lobby", n) for n in range(300)])
        epoch = published[0].epoch
        assert await state.since("lobby", epoch, 0) is None
        assert await state.since("lobby", epoch, 290) == [p.frame for p in published[290:]]
    finally:
        await state.close()


async def test_publish_sends_a_frame_numbered_elsewhere_as_is(
    state: RedisState, listener: Listener
) -> None:
    await state.publish("game:g1", "pg-epoch", b'{"type":"event","seq":7}')
    assert await listener.next() == ("game:g1", b'pg-epoch {"type":"event","seq":7}')


async def test_a_commit_of_three_events_is_one_command_once_its_script_is_loaded(
    state: RedisState,
) -> None:
    events = [event("lobby", 1), event("player:ann", 1), event("lobby", 2)]
    await state.commit(None, b"{}", [HSet("h", "f", "v")], events)
    before = state.commands
    await state.commit(None, b"{}", [HSet("h", "f", "v")], events)
    assert state.commands - before == 1


async def test_time_ms_is_redis_time(state: RedisState, raw: Redis) -> None:
    before = await raw.time()
    now = await state.time_ms()
    after = await raw.time()
    assert before[0] * 1000 + before[1] // 1000 <= now <= after[0] * 1000 + after[1] // 1000


@pytest.mark.parametrize("key", ["lobby", "lobby:lock", "meta:lobby", "log:lobby", "nodes"])
async def test_an_op_may_not_write_a_key_of_the_state_itself(state: RedisState, key: str) -> None:
    with pytest.raises(ValueError, match="RedisState's own"):
        await state.commit(None, b"doc", [HSet(key, "f", "v")], [])
    assert await state.load() is None
