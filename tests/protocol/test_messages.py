"""Wire messages: decoding every op's request, refusing bad frames."""

from __future__ import annotations

import json
from typing import Any

import pytest

from protocol.errors import BadMessage
from protocol.messages import (
    OPS,
    Accept,
    Auth,
    Cancel,
    Decline,
    FrameError,
    MoveRequest,
    Play,
    Rematch,
    Request,
    Resign,
    Subscribe,
    Unsubscribe,
    decode_request,
    peek_id,
)


def frame(**fields: object) -> str:
    return json.dumps(fields)


def decode_error(raw: str | bytes) -> FrameError:
    with pytest.raises(FrameError) as info:
        decode_request(raw)
    return info.value


# -- decoding every op -----------------------------------------------------------------------

VALID: list[tuple[dict[str, Any], Request]] = [
    ({"type": "auth", "id": 1, "token": "t0k"}, Auth(1, "t0k")),
    ({"type": "subscribe", "id": "a", "topic": "lobby"}, Subscribe("a", "lobby")),
    (
        {"type": "subscribe", "id": 2, "topic": "game:g1", "since": 4, "epoch": "e1"},
        Subscribe(2, "game:g1", 4, "e1"),
    ),
    (
        {"type": "subscribe", "id": 2, "topic": "game:g1", "since": 0, "epoch": "e1"},
        Subscribe(2, "game:g1", 0, "e1"),
    ),
    ({"type": "unsubscribe", "id": 3, "topic": "player:ann"}, Unsubscribe(3, "player:ann")),
    ({"type": "play", "id": 4, "opponent": "computer"}, Play(4, "computer", 5, None)),
    (
        {"type": "play", "id": 4, "opponent": "*", "best_of": 7, "rules": "rps3"},
        Play(4, "*", 7, "rps3"),
    ),
    ({"type": "accept", "id": 5, "challenge": "c1"}, Accept(5, "c1")),
    ({"type": "decline", "id": 6, "challenge": "c1"}, Decline(6, "c1")),
    ({"type": "cancel", "id": 7}, Cancel(7)),
    ({"type": "move", "id": 8, "game": "g1", "roll": "Rock"}, MoveRequest(8, "g1", "Rock", None)),
    (
        {"type": "move", "id": 8, "game": "g1", "roll": "Rock", "round": 3},
        MoveRequest(8, "g1", "Rock", 3),
    ),
    ({"type": "resign", "id": 9, "game": "g1"}, Resign(9, "g1")),
    ({"type": "rematch", "id": 10, "game": "g1"}, Rematch(10, "g1")),
    (
        {"type": "play", "id": 11, "opponent": "computer", "level": "reader"},
        Play(11, "computer", 5, None, "reader"),
    ),
]


@pytest.mark.parametrize(("fields", "expected"), VALID, ids=[str(f) for f, _ in VALID])
def test_every_op_decodes_from_a_text_frame(fields: dict[str, Any], expected: Request) -> None:
    assert decode_request(json.dumps(fields)) == expected


@pytest.mark.parametrize(("fields", "expected"), VALID, ids=[str(f) for f, _ in VALID])
def test_every_op_decodes_from_utf8_bytes(fields: dict[str, Any], expected: Request) -> None:
    assert decode_request(json.dumps(fields).encode()) == expected


def test_the_valid_cases_cover_every_op() -> None:
    assert {fields["type"] for fields, _ in VALID} == set(OPS)


def test_unknown_fields_are_ignored() -> None:
    assert decode_request(frame(type="cancel", id=1, extra=[1, 2])) == Cancel(1)


def test_null_optional_fields_count_as_absent() -> None:
    raw = frame(type="move", id=1, game="g", roll="Rock", round=None)
    assert decode_request(raw) == MoveRequest(1, "g", "Rock", None)


def test_non_ascii_strings_survive_decoding() -> None:
    raw = frame(type="play", id="zoë-1", opponent="Zoë").encode()
    assert decode_request(raw) == Play("zoë-1", "Zoë")


# -- refusing bad frames ---------------------------------------------------------------------

INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("type missing", {"id": 1}, "'type'"),
    ("type not a string", {"type": 3, "id": 1}, "'type'"),
    ("unknown op", {"type": "dance", "id": 1}, "'dance'"),
    ("token missing", {"type": "auth", "id": 1}, "'token'"),
    ("token empty", {"type": "auth", "id": 1, "token": ""}, "'token'"),
    ("token not a string", {"type": "auth", "id": 1, "token": 5}, "'token'"),
    ("topic missing", {"type": "subscribe", "id": 1}, "'topic'"),
    ("topic a list", {"type": "unsubscribe", "id": 1, "topic": ["lobby"]}, "'topic'"),
    ("since a string", {"type": "subscribe", "id": 1, "topic": "t", "since": "3"}, "'since'"),
    ("since a bool", {"type": "subscribe", "id": 1, "topic": "t", "since": True}, "'since'"),
    ("since a float", {"type": "subscribe", "id": 1, "topic": "t", "since": 1.0}, "'since'"),
    ("since without epoch", {"type": "subscribe", "id": 1, "topic": "t", "since": 3}, "'since'"),
    ("epoch without since", {"type": "subscribe", "id": 1, "topic": "t", "epoch": "e"}, "'epoch'"),
    (
        "since negative",
        {"type": "subscribe", "id": 1, "topic": "t", "since": -1, "epoch": "e"},
        "'since'",
    ),
    ("epoch empty", {"type": "subscribe", "id": 1, "topic": "t", "since": 1, "epoch": ""}, "epoch"),
    ("opponent missing", {"type": "play", "id": 1}, "'opponent'"),
    ("best_of even", {"type": "play", "id": 1, "opponent": "*", "best_of": 4}, "'best_of'"),
    ("best_of zero", {"type": "play", "id": 1, "opponent": "*", "best_of": 0}, "'best_of'"),
    ("best_of 17", {"type": "play", "id": 1, "opponent": "*", "best_of": 17}, "'best_of'"),
    ("best_of a bool", {"type": "play", "id": 1, "opponent": "*", "best_of": True}, "'best_of'"),
    ("best_of a float", {"type": "play", "id": 1, "opponent": "*", "best_of": 5.0}, "'best_of'"),
    ("best_of a string", {"type": "play", "id": 1, "opponent": "*", "best_of": "5"}, "'best_of'"),
    ("best_of null", {"type": "play", "id": 1, "opponent": "*", "best_of": None}, "'best_of'"),
    ("rules not a string", {"type": "play", "id": 1, "opponent": "*", "rules": 15}, "'rules'"),
    ("challenge missing", {"type": "accept", "id": 1}, "'challenge'"),
    ("challenge a number", {"type": "decline", "id": 1, "challenge": 12}, "'challenge'"),
    ("game missing", {"type": "move", "id": 1, "roll": "Rock"}, "'game'"),
    ("roll missing", {"type": "move", "id": 1, "game": "g"}, "'roll'"),
    ("round a string", {"type": "move", "id": 1, "game": "g", "roll": "R", "round": "2"}, "round"),
    ("round a float", {"type": "move", "id": 1, "game": "g", "roll": "R", "round": 2.5}, "round"),
    ("resign game missing", {"type": "resign", "id": 1}, "'game'"),
    ("lone surrogate", {"type": "auth", "id": 1, "token": "\ud800"}, "'token'"),
]


@pytest.mark.parametrize(
    ("fields", "field"), [(f, n) for _, f, n in INVALID], ids=[c for c, _, _ in INVALID]
)
def test_an_invalid_field_is_a_frame_error_naming_the_field(
    fields: dict[str, Any], field: str
) -> None:
    error = decode_error(json.dumps(fields))
    assert field in error.message
    assert error.code == "bad_request"


@pytest.mark.parametrize("fields", [f for _, f, _ in INVALID], ids=[c for c, _, _ in INVALID])
def test_an_invalid_field_keeps_the_readable_request_id(fields: dict[str, Any]) -> None:
    assert decode_error(json.dumps(fields)).request_id == 1


def test_a_frame_error_is_a_bad_message() -> None:
    assert issubclass(FrameError, BadMessage)


def test_an_invalid_field_keeps_a_string_request_id() -> None:
    assert decode_error(frame(type="auth", id="req-7")).request_id == "req-7"


@pytest.mark.parametrize("raw", ["", "{", "nope", '{"type": "auth",}', "[1,", "{} {}"])
def test_bad_json_is_a_frame_error_without_request_id(raw: str) -> None:
    error = decode_error(raw)
    assert error.request_id is None
    assert "JSON" in error.message


@pytest.mark.parametrize("raw", ["[]", "1", '"auth"', "null", "true"])
def test_json_that_is_not_an_object_is_a_frame_error_without_request_id(raw: str) -> None:
    assert decode_error(raw).request_id is None


@pytest.mark.parametrize("rid", [None, True, 1.5, [1], {"a": 1}])
def test_a_missing_or_ill_typed_id_is_a_frame_error_naming_id(rid: object) -> None:
    error = decode_error(json.dumps({"type": "cancel", "id": rid}))
    assert (error.request_id, "'id'" in error.message) == (None, True)


def test_an_absent_id_is_a_frame_error_naming_id() -> None:
    assert "'id'" in decode_error(frame(type="cancel")).message


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",
        b'{"type":"cancel","id":"\xff"}',
        b'{"type":"auth","id":1,"token":"\xc3"}',
        # a surrogate encoded as if it were a code point (CESU-8): not UTF-8
        b'{"type":"auth","id":1,"token":"\xed\xa0\x80"}',
    ],
)
def test_bytes_that_are_not_utf8_are_a_frame_error(raw: bytes) -> None:
    error = decode_error(raw)
    assert (error.request_id, error.message) == (None, "frame is not valid UTF-8")


def test_json_in_utf16_is_a_frame_error() -> None:
    raw = json.dumps({"type": "cancel", "id": 1}).encode("utf-16")
    assert decode_error(raw).request_id is None


def test_an_id_with_a_lone_surrogate_is_a_frame_error_without_request_id() -> None:
    error = decode_error('{"type": "cancel", "id": "\\udc80"}')
    assert error.request_id is None
    assert "'id'" in error.message


@pytest.mark.parametrize(
    ("raw", "rid"),
    [
        ('{"id": 7}', 7),
        ('{"id": "a"}', "a"),
        ('{"id": "\\udc80"}', None),
        ('{"id": true}', None),
        ("[1]", None),
        ("{", None),
    ],
)
def test_peeking_at_a_refused_frame_finds_only_an_id_a_reply_can_carry(
    raw: str, rid: object
) -> None:
    assert peek_id(raw) == rid


def test_a_deeply_nested_frame_is_a_frame_error() -> None:
    assert decode_error("[" * 100_000 + "]" * 100_000).request_id is None


def test_a_huge_integer_is_a_frame_error() -> None:
    assert decode_error('{"type":"cancel","id":' + "9" * 5000 + "}").request_id is None
