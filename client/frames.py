"""The wire as the client sees it: requests built and checked with ``protocol.messages``, the
hub's frames read into typed shapes.

A request is built by the protocol's own decoder, so a field the hub would refuse (a ``best_of``
out of range, ``since`` without ``epoch``) fails here with the hub's words, before anything is
sent, and no request larger than the hub takes (``MAX_FRAME``) goes out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NotRequired, TypeAlias, TypedDict, get_args

import attrs

from client.errors import ClientError
from protocol.errors import BadMessage
from protocol.messages import MAX_FRAME, OPS, Request, decode_request

__all__ = [
    "READ_LIMIT",
    "Item",
    "JsonObject",
    "SubscribeReply",
    "Subscribed",
    "build_request",
    "encode_request",
    "read_frame",
    "read_subscribe_reply",
    "read_subscribed",
    "reply_error",
]

JsonObject: TypeAlias = dict[str, Any]  # a JSON object read from outside: values unchecked
Item: TypeAlias = JsonObject  # an item of the client's stream (see client.connection)

# MAX_FRAME bounds what the hub reads; what it sends is not bounded by it (a lobby snapshot with
# many players, a long game's history), so the client reads frames up to the hub's whole
# per-connection backlog (docs/protocol.md "Limits").
READ_LIMIT = 1 << 20

# The request classes in the order of ``OPS``: the union ``Request`` names them in that order.
OP_OF: Mapping[type[Request], str] = dict(zip(get_args(Request), OPS, strict=True))


class Subscribed(TypedDict):
    """A topic ``auth`` joined: an entry of its reply's ``subscribed``."""

    topic: str
    seq: NotRequired[int]
    epoch: NotRequired[str]


class SubscribeReply(TypedDict, total=False):
    """The ``data`` of a ``subscribe`` reply."""

    topic: str
    epoch: str
    seq: int
    recovered: bool
    snapshot: JsonObject | None


def build_request(op: str, rid: int, fields: Mapping[str, object]) -> Request:
    """The request ``op`` with ``fields`` (None left out), checked as the hub checks it."""
    body = {name: value for name, value in fields.items() if value is not None}
    try:
        return decode_request(json.dumps({**body, "type": op, "id": rid}))
    except BadMessage as exc:
        raise ClientError("bad_request", exc.message) from None
    except TypeError as exc:  # a value JSON cannot carry
        raise ClientError("bad_request", f"request {op!r} cannot be sent as JSON: {exc}") from None


def encode_request(request: Request) -> str:
    """The text frame for ``request``; ``ClientError("bad_request")`` past ``MAX_FRAME`` bytes."""
    fields = {k: v for k, v in attrs.asdict(request).items() if v is not None}
    frame = json.dumps({"type": OP_OF[type(request)], **fields}, ensure_ascii=False)
    size = len(frame.encode())
    if size > MAX_FRAME:
        raise ClientError(
            "bad_request",
            f"the request is {size} bytes and the hub takes at most {MAX_FRAME}; send less",
        )
    return frame


def read_frame(raw: str | bytes) -> JsonObject | None:
    """One frame from the hub as a JSON object, or None for a frame that is not one."""
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return frame if isinstance(frame, dict) else None


def reply_error(frame: JsonObject) -> ClientError:
    """The ``ClientError`` an error reply stands for."""
    error = frame.get("error")
    error = error if isinstance(error, dict) else {}
    return ClientError(str(error.get("code", "internal")), str(error.get("message", "")))


def read_subscribe_reply(data: JsonObject) -> SubscribeReply:
    """The fields of a ``subscribe`` reply that have the right types."""
    reply: SubscribeReply = {"recovered": data.get("recovered") is True}
    if isinstance(data.get("topic"), str):
        reply["topic"] = data["topic"]
    if isinstance(data.get("epoch"), str):
        reply["epoch"] = data["epoch"]
    seq = data.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool):
        reply["seq"] = seq
    snapshot = data.get("snapshot")
    reply["snapshot"] = snapshot if isinstance(snapshot, dict) else None
    return reply


def read_subscribed(data: JsonObject) -> list[Subscribed]:
    """The topics an ``auth`` reply says the connection joined."""
    entries = data.get("subscribed")
    out: list[Subscribed] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("topic"), str):
            continue
        item: Subscribed = {"topic": entry["topic"]}
        seq, epoch = entry.get("seq"), entry.get("epoch")
        if isinstance(seq, int) and not isinstance(seq, bool):
            item["seq"] = seq
        if isinstance(epoch, str):
            item["epoch"] = epoch
        out.append(item)
    return out
