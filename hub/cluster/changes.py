"""What one ``RedisState.commit`` changes (ops and appends) and what it and ``snapshot`` answer.

Keys are given without the hub's prefix (``"leaves"``, ``"conns:alice"``); ``RedisState`` adds
it.  Each op is one Redis write on one key; a commit applies them in order, after the document and
before the appends, all in one atomic step.
"""

from __future__ import annotations

import math
from typing import ClassVar

from attrs import field, frozen

from protocol.messages import encode_event_text

Value = str | bytes


def _finite(_: object, __: object, score: float) -> None:
    if math.isnan(score):
        raise ValueError("a sorted-set score must be a number, not NaN")


@frozen
class HSet:
    """Set ``field`` of the hash ``key`` to ``value``."""

    name: ClassVar[str] = "hset"
    key: str
    field: str
    value: Value

    def args(self) -> tuple[Value, Value]:
        """The op's two arguments as the commit script reads them."""
        return self.field, self.value


@frozen
class IfHas:
    """A condition, not a write: when the hash ``key`` has no ``field`` (any more), the whole
    commit writes nothing and appends nothing (``commit`` answers no ``Published``)."""

    name: ClassVar[str] = "ifhas"
    key: str
    field: str

    def args(self) -> tuple[Value, Value]:
        """The op's two arguments as the commit script reads them."""
        return self.field, ""


@frozen
class HDel:
    """Delete ``field`` of the hash ``key``."""

    name: ClassVar[str] = "hdel"
    key: str
    field: str

    def args(self) -> tuple[Value, Value]:
        """The op's two arguments as the commit script reads them."""
        return self.field, ""


@frozen
class ZAdd:
    """Add ``member`` to the sorted set ``key`` with ``score`` (or move it there)."""

    name: ClassVar[str] = "zadd"
    key: str
    member: str
    score: float = field(validator=_finite)

    def args(self) -> tuple[Value, Value]:
        """The op's two arguments as the commit script reads them."""
        return self.member, repr(self.score)


@frozen
class ZRem:
    """Remove ``member`` from the sorted set ``key``."""

    name: ClassVar[str] = "zrem"
    key: str
    member: str

    def args(self) -> tuple[Value, Value]:
        """The op's two arguments as the commit script reads them."""
        return self.member, ""


@frozen
class SAdd:
    """Add ``member`` to the set ``key``."""

    name: ClassVar[str] = "sadd"
    key: str
    member: str

    def args(self) -> tuple[Value, Value]:
        """The op's two arguments as the commit script reads them."""
        return self.member, ""


@frozen
class SRem:
    """Remove ``member`` from the set ``key``."""

    name: ClassVar[str] = "srem"
    key: str
    member: str

    def args(self) -> tuple[Value, Value]:
        """The op's two arguments as the commit script reads them."""
        return self.member, ""


@frozen
class Del:
    """Delete the key ``key``, whatever it holds."""

    name: ClassVar[str] = "del"
    key: str

    def args(self) -> tuple[Value, Value]:
        """The op's two arguments as the commit script reads them."""
        return "", ""


Op = IfHas | HSet | HDel | ZAdd | ZRem | SAdd | SRem | Del


@frozen
class Append:
    """One event for a Redis-numbered topic; ``data`` is its JSON text from ``encode_data``."""

    topic: str
    event: str
    ts: int  # unix ms
    data: str

    def parts(self) -> tuple[bytes, bytes]:
        """The frame around its seq: ``head + b"<seq>" + tail`` is ``encode_event_text``'s bytes.

        Cut from the protocol's own frame with seq 0, so the bytes cannot drift from it.  The
        first ``,"seq":0,`` is the seq field: it comes before the data, and inside the topic's
        JSON string every quote is escaped.
        """
        whole = encode_event_text(self.topic, 0, self.ts, self.event, self.data)
        at = whole.index(b',"seq":0,') + len(b',"seq":')
        return whole[:at], whole[at + 1 :]


@frozen
class Published:
    """An appended event: its topic, the topic's epoch, the seq it got and its frame's bytes."""

    topic: str
    epoch: str
    seq: int
    frame: bytes


@frozen
class Snapshot:
    """One consistent moment: the lobby document, the named hashes, the topic's (epoch, seq)."""

    document: bytes | None
    hashes: dict[str, dict[str, bytes]]
    epoch: str
    seq: int
