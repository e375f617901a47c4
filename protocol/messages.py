"""Wire messages of the WebSocket protocol (docs/protocol.md): requests in, replies and events out.

``decode_request`` turns one text frame into a typed request or raises ``BadMessage`` naming the
bad field; the ``encode_*`` functions produce the exact bytes sent, so an event is serialized once
and the same bytes go to every subscriber.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from attrs import frozen

from protocol import PROTOCOL_VERSION
from protocol.errors import BadMessage
from protocol.game import check_best_of

RequestId: TypeAlias = int | str
MAX_FRAME = 65_536


@frozen
class Auth:
    """Authenticate the connection as a player."""

    id: RequestId
    token: str


@frozen
class Subscribe:
    """Subscribe to a topic, optionally recovering from ``since`` in ``epoch``."""

    id: RequestId
    topic: str
    since: int | None = None
    epoch: str | None = None


@frozen
class Unsubscribe:
    """Stop receiving a topic's events."""

    id: RequestId
    topic: str


@frozen
class Play:
    """Start a game: against the computer, challenge a player, or queue (``*``)."""

    id: RequestId
    opponent: str
    best_of: int = 5
    rules: str | None = None
    level: str | None = None  # the computer's (protocol.reader.check_level); None: the default


@frozen
class Accept:
    """Accept a challenge."""

    id: RequestId
    challenge: str


@frozen
class Decline:
    """Decline a challenge."""

    id: RequestId
    challenge: str


@frozen
class Cancel:
    """Leave the queue and withdraw one's open challenges."""

    id: RequestId


@frozen
class MoveRequest:
    """A roll for a game's round (the open round when ``round`` is absent)."""

    id: RequestId
    game: str
    roll: str
    round: int | None = None


@frozen
class Rematch:
    """Play a finished game again (a seat of it asks)."""

    id: RequestId
    game: str


@frozen
class Resign:
    """Give up a game."""

    id: RequestId
    game: str


Request: TypeAlias = (
    Auth
    | Subscribe
    | Unsubscribe
    | Play
    | Accept
    | Decline
    | Cancel
    | MoveRequest
    | Resign
    | Rematch
)

OPS = (
    "auth",
    "subscribe",
    "unsubscribe",
    "play",
    "accept",
    "decline",
    "cancel",
    "move",
    "resign",
    "rematch",
)


class FrameError(BadMessage):
    """A frame that could not be read; ``request_id`` is its id when one could be read."""

    def __init__(self, message: str, request_id: RequestId | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


def _str(obj: dict[str, Any], name: str, rid: RequestId, *, required: bool = True) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise FrameError(f"field {name!r} is required", rid)
        return None
    if not isinstance(value, str) or not value:
        raise FrameError(f"field {name!r} must be a non-empty string", rid)
    if not value.isascii() and not _encodable(value):  # ASCII (the usual) has no surrogates
        raise FrameError(f"field {name!r} must not contain lone surrogates", rid)
    return value


def _encodable(text: str) -> bool:
    # A JSON escape such as "\ud800" decodes to a lone surrogate that no UTF-8 reply can carry.
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _int(obj: dict[str, Any], name: str, rid: RequestId) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FrameError(f"field {name!r} must be an integer", rid)
    return value


def decode_request(frame: str | bytes) -> Request:
    """Decode one text frame into a request; raise ``FrameError`` naming what is wrong."""
    obj = read_frame(frame)
    move = usual_move(obj)
    return decode_object(obj) if move is None else MoveRequest(*move)


def read_frame(frame: str | bytes) -> Any:
    """A frame's JSON value; ``FrameError`` when it is not JSON in UTF-8."""
    if isinstance(frame, bytes | bytearray):
        # json.loads would also take UTF-16/32 and surrogates encoded in UTF-8; frames are UTF-8.
        try:
            frame = bytes(frame).decode()
        except UnicodeDecodeError:
            raise FrameError("frame is not valid UTF-8") from None
    try:
        # ``json.loads(frame)``: a frame that is one JSON value by the decoder's C scanner,
        # without json.loads' two Python calls; any other (spaces around it, or no JSON) by
        # ``json.loads``, for its answer or its error.
        try:
            obj, end = _scan(frame, 0)
        except (StopIteration, ValueError):
            return json.loads(frame)
        return obj if end == len(frame) else json.loads(frame)
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"frame is not valid JSON: {exc}") from None


def usual_move(obj: Any) -> tuple[RequestId, str, str, int | None] | None:
    """A frame's ``move`` as ``decode_object`` reads it (``MoveRequest``'s fields) when each of
    its fields is as most moves' are (an integer or ASCII id, ASCII game and roll, an integer
    round or none), read inline for every move; None for any other frame."""
    if type(obj) is not dict or obj.get("type") != "move":
        return None
    rid, game, roll, round = obj.get("id"), obj.get("game"), obj.get("roll"), obj.get("round")
    if (
        (type(rid) is int or (type(rid) is str and rid.isascii()))
        and type(game) is str
        and type(roll) is str
        and (round is None or type(round) is int)
        and game.isascii()
        and roll.isascii()
        and game
        and roll
    ):
        return rid, game, roll, round
    return None


def decode_object(obj: Any) -> Request:
    """A frame's JSON value (``read_frame``) as a request; ``FrameError`` naming what is wrong."""
    if not isinstance(obj, dict):
        raise FrameError("frame must be a JSON object")
    rid = obj.get("id")
    if isinstance(rid, bool) or not isinstance(rid, int | str):
        raise FrameError("field 'id' is required and must be an integer or a string")
    if isinstance(rid, str) and not _encodable(rid):
        raise FrameError("field 'id' must not contain lone surrogates")
    op = obj.get("type")
    if not isinstance(op, str):
        raise FrameError("field 'type' is required and must be a string", rid)
    if op not in OPS:
        raise FrameError(f"unknown op {op!r}; expected one of {', '.join(OPS)}", rid)
    if op == "auth":
        return Auth(rid, _req(obj, "token", rid))
    if op == "subscribe":
        since, epoch = _int(obj, "since", rid), _str(obj, "epoch", rid, required=False)
        if (since is None) != (epoch is None):
            raise FrameError("fields 'since' and 'epoch' go together", rid)
        if since is not None and since < 0:
            raise FrameError("field 'since' must be 0 or more", rid)
        return Subscribe(rid, _req(obj, "topic", rid), since, epoch)
    if op == "unsubscribe":
        return Unsubscribe(rid, _req(obj, "topic", rid))
    if op == "play":
        best_of = obj.get("best_of", 5)
        try:
            check_best_of(best_of)
        except BadMessage as exc:
            raise FrameError(exc.message, rid) from None
        return Play(
            rid,
            _req(obj, "opponent", rid),
            best_of,
            _str(obj, "rules", rid, required=False),
            _str(obj, "level", rid, required=False),
        )
    if op == "accept":
        return Accept(rid, _req(obj, "challenge", rid))
    if op == "decline":
        return Decline(rid, _req(obj, "challenge", rid))
    if op == "cancel":
        return Cancel(rid)
    if op == "move":
        return MoveRequest(
            rid, _req(obj, "game", rid), _req(obj, "roll", rid), _int(obj, "round", rid)
        )
    if op == "rematch":
        return Rematch(rid, _req(obj, "game", rid))
    return Resign(rid, _req(obj, "game", rid))


# The JSON decoder's C scanner, as ``json.loads`` uses it (in two Python calls more).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def peek_id(frame: str | bytes) -> RequestId | None:
    """The ``id`` of a frame that is refused unread (rate limiting), or None."""
    try:
        obj = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    rid = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(rid, bool) or not isinstance(rid, int | str):
        return None
    # The same ids as decode_request reads: a lone surrogate cannot go back in a UTF-8 reply.
    return rid if isinstance(rid, int) or _encodable(rid) else None


def _req(obj: dict[str, Any], name: str, rid: RequestId) -> str:
    value = _str(obj, name, rid)
    assert value is not None
    return value


# A JSON string as ``_ENCODER`` writes one (``ensure_ascii=False``).
_string: Callable[[str], str] = json.encoder.encode_basestring

# One encoder for every frame: ``json.dumps`` with options builds a new encoder on each call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _chunker() -> Callable[[object, int], Sequence[str]]:
    """``_ENCODER``'s C encoder, made once: ``JSONEncoder.encode`` makes a new one (and a
    closure, in two Python calls) for every object.  Without a circular check: frames are trees
    the hub builds (a cycle would raise ``RecursionError`` instead of ``ValueError``)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return lambda obj, _: [_ENCODER.encode(obj)]
    e = _ENCODER
    chunks: Callable[[object, int], Sequence[str]] = make(
        None, e.default, _string, None, e.key_separator, e.item_separator, False, False, True
    )
    return chunks


_chunks = _chunker()


def _dump(obj: object) -> bytes:
    return "".join(_chunks(obj, 0)).encode()


def encode_welcome(server: str, session: str, heartbeat: float) -> bytes:
    """The first frame of every connection."""
    return _dump(
        {
            "type": "welcome",
            "protocol": PROTOCOL_VERSION,
            "server": server,
            "session": session,
            "heartbeat": heartbeat,
        }
    )


def encode_reply(rid: RequestId | None, data: object) -> bytes:
    """A successful reply."""
    return _dump({"type": "reply", "id": rid, "ok": True, "data": data})


def encode_move_reply(rid: RequestId, counted: int) -> bytes:
    """``encode_reply(rid, {"round": counted})``'s bytes, written directly: every move's reply."""
    rid_text = _string(rid) if isinstance(rid, str) else int.__repr__(rid)
    return f'{{"type":"reply","id":{rid_text},"ok":true,"data":{{"round":{counted}}}}}'.encode()


def encode_error(rid: RequestId | None, code: str, message: str) -> bytes:
    """An error reply."""
    return _dump(
        {"type": "reply", "id": rid, "ok": False, "error": {"code": code, "message": message}}
    )


def encode_event(topic: str, seq: int, ts: int, event: str, data: object) -> bytes:
    """An event frame, serialized once for every subscriber."""
    return encode_event_text(topic, seq, ts, event, "".join(_chunks(data, 0)))


def encode_data(data: object) -> str:
    """The JSON text of an event's ``data`` as its frame carries it (for ``encode_event_text``)."""
    return "".join(_chunks(data, 0))


def encode_event_text(topic: str, seq: int, ts: int, event: str, text: str) -> bytes:
    """An event frame around ``text``, its data already encoded by ``encode_data``: a game
    event's data is encoded once, for its stored row and its frame; the bytes are
    ``encode_event``'s."""
    return (
        f'{{"type":"event","topic":{_string(topic)},"seq":{seq},"ts":{ts},'
        f'"event":{_string(event)},"data":{text}}}'
    ).encode()
