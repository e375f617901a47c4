"""``parse_seq``: the seq read where ``encode_event_text`` puts it, the same as decoding the frame
would give, for any topic (quotes, backslashes, a fake ``,"seq":`` inside it, any script); other
shapes decoded as JSON; no seq is ``ValueError`` (an event frame's rest is not checked: the hot
path reads only its seq).  And the relay's hot path on such topics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.cluster.redis_state import RedisState
from hub.cluster.relay import parse_seq
from protocol.messages import encode_data, encode_event_text
from tests.cluster.redisserver import RedisServer
from tests.cluster.test_relay import Kit, server, watch_new

__all__ = ["server"]

ODD_TOPICS = (
    'game:a"b',
    "game:a\\",
    'game:x","seq":7,"y',
    "player:Zoë",
    "game:游戏\n\t",
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    topic=st.text() | st.sampled_from(ODD_TOPICS),
    seq=st.integers(min_value=0, max_value=2**63),
    ts=st.integers(min_value=0, max_value=2**45),
    event=st.text(),
    data=json_values,
)
def test_the_seq_of_any_event_frame_is_the_decoded_one(
    topic: str, seq: int, ts: int, event: str, data: object
) -> None:
    frame = encode_event_text(topic, seq, ts, event, encode_data(data))
    assert parse_seq(frame) == seq == json.loads(frame)["seq"]


@given(seq=st.integers(min_value=0, max_value=2**63), topic=st.text())
def test_a_frame_in_another_key_order_is_decoded(seq: int, topic: str) -> None:
    frame = json.dumps({"seq": seq, "type": "event", "topic": topic}).encode()
    assert parse_seq(frame) == seq


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"type":"event","topic":"lobby"}',
        b'{"type":"event","topic":"lobby","seq":true,"ts":1}',
        b'{"type":"event","topic":"lobby","seq":-1,"ts":1}',
        b'{"type":"event","topic":"lobby","seq":1.5,"ts":1}',
        b'{"type":"event","topic":"lobby","seq":"1","ts":1}',
        b'{"type":"event","topic":"lobby","seq":01,"ts":1}',
        b'{"seq":1,"topic":"\xff"}',
    ],
)
def test_a_frame_without_an_integer_seq_is_a_value_error(frame: bytes) -> None:
    with pytest.raises(ValueError):
        parse_seq(frame)


@pytest.fixture
async def kit(server: RedisServer) -> AsyncIterator[Kit]:
    made = Kit(server.url)
    yield made
    await made.close()


async def test_topics_with_odd_characters_are_relayed_like_any(kit: Kit) -> None:
    a = await kit.node()
    for topic in ODD_TOPICS:
        await watch_new(kit, topic, a)
    for topic in ODD_TOPICS:
        for _ in range(3):
            await kit.emit(topic)
    for topic in ODD_TOPICS:
        await a.has(topic, 3)
        assert a.exact(topic, 3)
    assert a.relay.counters["duplicates"] == 0 and a.relay.counters["malformed"] == 0
    assert kit.log.catch_ups == []


async def test_a_message_of_several_frames_delivers_each_in_order(kit: Kit) -> None:
    """``RedisState.publish_many`` sends a topic's frames in a row as one message; the relay
    takes each as a message of its own: in order, a gap among them caught up from the log."""
    node = await kit.node()
    await watch_new(kit, "game:g", node)
    await watch_new(kit, "game:h", node)
    state = await RedisState.connect(kit.url, kit.prefix)
    log = kit.log

    def items(topic: str, *seqs: int) -> list[tuple[str, str, bytes]]:
        return [(topic, log.epochs[topic], log.frames[topic][s]) for s in seqs]

    try:
        g = [log.store("game:g") for _ in range(5)]
        h = log.store("game:h")
        await state.publish_many(
            items("game:g", *g[:3]) + items("game:h", h) + items("game:g", *g[3:])
        )
        await node.has("game:g", 5)
        await node.has("game:h", 1)
        assert node.exact("game:g", 5) and node.exact("game:h", 1)
        counters = node.relay.counters
        assert (counters["received"], counters["malformed"], log.catch_ups) == (6, 0, [])
        s6, _, s8 = (log.store("game:g") for _ in range(3))
        await state.publish_many(items("game:g", s6, s8))  # 7 never published
        await node.has("game:g", 8)
        assert node.exact("game:g", 8)
        assert [topic for topic, _, _ in log.catch_ups] == ["game:g"]
    finally:
        await state.close()
