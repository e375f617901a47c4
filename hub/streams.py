"""Topic streams: each topic's ``epoch``, latest ``seq`` and the ring of its recent frames, from
which a subscriber who comes back with ``since`` is sent what it missed."""

from __future__ import annotations

import collections
import secrets

from protocol.messages import encode_event


class Stream:
    """The in-memory history of one topic: ``epoch``, latest ``seq`` and a ring of frames."""

    __slots__ = ("epoch", "ring", "seq", "topic")

    def __init__(self, topic: str, history: int) -> None:
        self.topic = topic
        self.epoch = secrets.token_urlsafe(8)
        self.seq = 0
        self.ring: collections.deque[tuple[int, bytes]] = collections.deque(maxlen=history)

    def append(self, event: str, data: object, ts: int) -> bytes:
        """Number and serialize an event, keep it in the ring, return its payload."""
        self.seq += 1
        frame = encode_event(self.topic, self.seq, ts, event, data)
        self.ring.append((self.seq, frame))
        return frame

    def since(self, seq: int) -> list[bytes] | None:
        """Payloads after ``seq``, or None when some of them are no longer held.

        A ``seq`` beyond the latest was never sent in this epoch: not recoverable either.
        """
        if seq > self.seq:
            return None
        if seq == self.seq:
            return []
        if not self.ring or self.ring[0][0] > seq + 1:
            return None
        return [frame for s, frame in self.ring if s > seq]


def replay_from(start: int | None, since: int, seq: int) -> bool | None:
    """Whether a subscription recovering from a held ``since`` replays; None for a snapshot.

    ``start`` is the seq at which the connection was already subscribed (None when it was not):
    every event after it was sent live, so none is sent again (False: recovered, nothing to
    send).  Events between ``since`` and a start behind the latest seq cannot be replayed
    either: they would arrive after newer ones, and a client dropping old seqs would lose them.
    """
    if start is None or since < start == seq:
        return True
    if since >= start:
        return False
    return None
