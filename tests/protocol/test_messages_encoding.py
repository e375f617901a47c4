"""Wire messages: encoding server frames, topic names."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import PROTOCOL_VERSION
from protocol.errors import BadMessage, ProtocolError
from protocol.messages import (
    encode_data,
    encode_error,
    encode_event,
    encode_event_text,
    encode_reply,
    encode_welcome,
)
from protocol.topics import Topic, parse_topic


def is_compact(raw: bytes) -> bool:
    """True when ``raw`` is JSON with no insignificant whitespace."""
    return raw == json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False).encode()


# -- encoding --------------------------------------------------------------------------------


def test_welcome_is_compact_json_of_the_documented_shape() -> None:
    raw = encode_welcome("rps-hub/0.1.0", "s1", 20)
    assert json.loads(raw) == {
        "type": "welcome",
        "protocol": PROTOCOL_VERSION,
        "server": "rps-hub/0.1.0",
        "session": "s1",
        "heartbeat": 20,
    }
    assert is_compact(raw)


def test_a_reply_is_compact_json_of_the_documented_shape() -> None:
    raw = encode_reply("r1", {"round": 2})
    assert json.loads(raw) == {"type": "reply", "id": "r1", "ok": True, "data": {"round": 2}}
    assert is_compact(raw)


def test_an_error_reply_is_compact_json_of_the_documented_shape() -> None:
    raw = encode_error(None, "bad_request", "frame is not valid JSON")
    assert json.loads(raw) == {
        "type": "reply",
        "id": None,
        "ok": False,
        "error": {"code": "bad_request", "message": "frame is not valid JSON"},
    }
    assert is_compact(raw)


def test_an_event_is_compact_json_of_the_documented_shape() -> None:
    raw = encode_event("game:g1", 3, 1_700_000_000_000, "moved", {"round": 1, "player": "ann"})
    assert json.loads(raw) == {
        "type": "event",
        "topic": "game:g1",
        "seq": 3,
        "ts": 1_700_000_000_000,
        "event": "moved",
        "data": {"round": 1, "player": "ann"},
    }
    assert is_compact(raw)


def test_encoded_frames_carry_non_ascii_as_utf8() -> None:
    raw = encode_event("player:Zoë", 1, 0, "challenge", {"from": "Zoë"})
    assert "Zoë".encode() in raw
    assert b"\\u" not in raw


# -- topics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("lobby", Topic("lobby", "")),
        ("game:g-1", Topic("game", "g-1")),
        ("player:Ann", Topic("player", "Ann")),
        ("game:a:b", Topic("game", "a:b")),
    ],
)
def test_parse_topic_accepts_the_three_forms(name: str, topic: Topic) -> None:
    assert parse_topic(name) == topic
    assert parse_topic(name).name == name


@pytest.mark.parametrize(
    "name", ["", "Lobby", "lobby:x", "game", "game:", "player:", ":x", "room:x", "games:x"]
)
def test_parse_topic_rejects_other_forms_with_a_bad_message(name: str) -> None:
    with pytest.raises(BadMessage) as info:
        parse_topic(name)
    assert info.value.code == "bad_request"
    assert isinstance(info.value, ProtocolError)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    topic=st.text(min_size=1),
    seq=st.integers(min_value=0, max_value=2**53),
    ts=st.integers(min_value=0, max_value=2**53),
    event=st.text(min_size=1),
    data=st.dictionaries(st.text(), json_values, max_size=5),
)
def test_an_event_framed_around_its_encoded_data_is_the_same_bytes(
    topic: str, seq: int, ts: int, event: str, data: dict[str, object]
) -> None:
    # The hub encodes a game event's data once, for its stored row and its frame alike.
    framed = encode_event_text(topic, seq, ts, event, encode_data(data))
    assert framed == encode_event(topic, seq, ts, event, data)
    assert json.loads(framed) == {
        "type": "event", "topic": topic, "seq": seq, "ts": ts, "event": event, "data": data
    }  # fmt: skip


@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
)
def test_data_is_encoded_as_compact_json_dumps_writes_it(data: object) -> None:
    # The frames' encoder is made once (not per call, as JSONEncoder.encode does): same text.
    assert encode_data(data) == json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    assert (
        encode_reply(7, data)
        == json.dumps(
            {"type": "reply", "id": 7, "ok": True, "data": data},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
    )
