"""A watched topic's cursor and the frames' seq, for the relay (``hub.cluster.relay``).

``parse_seq`` reads an event frame's ``seq`` where ``encode_event_text`` puts it, right after
the topic, without decoding the frame.  ``Cursor`` is what the relay holds per watched topic:
``(epoch, seq)``, the channel, the retired epochs, and the queue behind a catch-up; its ``head``
is the prefix that a message of its epoch and topic starts with, so the hot path checks the
epoch, the topic and where the seq's digits are with one ``startswith``.
"""

from __future__ import annotations

import asyncio
import collections
import json

from protocol.messages import encode_event_text

_EVENT = b'{"type":"event","topic":"'
_SEQ = b',"seq":'
RETIRED = 4  # old epochs remembered per topic


def parse_seq(frame: bytes) -> int:
    """The ``seq`` of an event frame as ``encode_event_text`` makes it (read where it stands,
    after the topic, without decoding the frame); any other shape is decoded as JSON;
    ``ValueError`` when the frame has no integer ``seq``."""
    if frame.startswith(_EVENT):
        # The topic is a JSON string: each '"' in it follows a backslash, so the first ',"seq":'
        # after its opening quote is the one that follows it.
        i = frame.find(_SEQ, len(_EVENT))
        if i > 0:
            i += len(_SEQ)
            digits = frame[i : frame.find(b",", i)]
            if digits.isdigit() and digits[0] != 0x30:
                return int(digits)
    return _decoded_seq(frame)


def _decoded_seq(frame: bytes) -> int:
    value = json.loads(frame)
    seq = value.get("seq") if isinstance(value, dict) else None
    if type(seq) is not int or seq < 0:
        raise ValueError(f"not an event frame with a seq: {frame[:80]!r}")
    return seq


# A queued item: (epoch, seq, frame or None for "the log holds up to seq", the future its
# caller awaits or None, whether (epoch, seq) comes from an authority: heads or watch).
Item = tuple[bytes, int, bytes | None, asyncio.Future[None] | None, bool]


class Cursor:
    """A watched topic: its cursor, its channel, and the queue behind a catch-up."""

    __slots__ = (
        "channel",
        "cut",
        "epoch",
        "epoch_b",
        "gone",
        "head",
        "n",
        "pending",
        "retired",
        "seq",
        "topic",
        "worker",
    )

    def __init__(self, topic: str, channel: bytes, epoch: bytes, seq: int) -> None:
        self.topic = topic
        self.channel = channel
        self.seq = seq
        self.worker: asyncio.Task[None] | None = None  # drains ``pending`` while set
        self.pending: collections.deque[Item] = collections.deque()
        self.retired: collections.deque[bytes] = collections.deque(maxlen=RETIRED)
        self.gone = False  # unwatched
        self.move(epoch, seq)

    def move(self, epoch: bytes, seq: int) -> None:
        """Set the cursor, and the message prefix its epoch and topic make."""
        self.epoch_b = epoch
        self.epoch = epoch.decode()
        self.seq = seq
        sample = encode_event_text(self.topic, 0, 0, "", "0")
        at = sample.index(b',"seq":0,') + len(_SEQ)
        self.head = epoch + b" " + sample[:at]  # a message starting so: this epoch and topic
        self.n = len(self.head)  # where the seq's digits start
        self.cut = len(epoch) + 1  # where the frame starts
