"""Fan-out: peers, topic streams with seq/epoch, and subscriptions.

An event is serialized once (``protocol.messages.encode_event``) and framed once as an unmasked
WebSocket text frame (``ws_frame``); the same ``bytes`` object is then written to every
subscriber's transport.  Writing never blocks: asyncio's transport keeps what the kernel did not
take yet, and that backlog *is* the peer's outbound queue.  A peer whose backlog passes the frame or
byte limit is a slow consumer: it is closed with 1013 and may reconnect and recover.  So one slow
socket never stalls a game, and there is no task per peer nor per message.

Frames go straight to the transport because the app never negotiates permessage-deflate (see
``hub.ws``), so a text frame is only a header and the payload; aiohttp's own writer still sends
pings, pongs and the close frame on the same transport, each write whole.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
import struct
from collections.abc import Iterable

from aiohttp import web

from protocol.messages import encode_event

log = logging.getLogger(__name__)

SLOW_CONSUMER = 1013


def ws_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame carrying ``payload`` (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


class Peer:
    """One WebSocket connection: its transport, backlog accounting, subscriptions and player."""

    __slots__ = (
        "_backlog",
        "_closer",
        "_closing",
        "_transport",
        "close_code",
        "max_bytes",
        "max_frames",
        "player",
        "session",
        "topics",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        *,
        max_frames: int,
        max_bytes: int,
    ) -> None:
        self.ws = ws
        self.session = secrets.token_urlsafe(12)
        self.player: str | None = None
        # Each topic with the seq after which every event was sent on this connection.
        self.topics: dict[str, int] = {}
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._transport = transport
        self._backlog = 0  # frames written since the transport's buffer was last empty
        self._closing = False
        self._closer: asyncio.Task[None] | None = None
        self.close_code: int | None = None  # why the hub closed it, when it did

    @property
    def closing(self) -> bool:
        """True once the peer is being closed; nothing more is written."""
        return self._closing or self.ws.closed

    def send(self, payload: bytes) -> None:
        """Frame and write one message (a reply or a single peer's event)."""
        self.write(ws_frame(payload))

    def write(self, frame: bytes) -> None:
        """Write a ready frame without blocking; a backlog over the limits closes with 1013."""
        if self._closing or self.ws.closed:
            return
        transport = self._transport
        if transport.is_closing():
            self._closing = True
            return
        buffered = transport.get_write_buffer_size()
        if not buffered:
            self._backlog = 0
        elif buffered + len(frame) > self.max_bytes or self._backlog >= self.max_frames:
            log.info("closing slow consumer session=%s player=%s", self.session, self.player)
            self.close(SLOW_CONSUMER, "slow consumer")
            return
        else:
            self._backlog += 1
        transport.write(frame)

    def close(self, code: int, message: str) -> None:
        """Stop writing and close the socket with ``code`` (in the background)."""
        if self._closing:
            return
        self._closing = True
        self.close_code = code
        self._closer = asyncio.create_task(
            self._close(code, message), name=f"peer-close-{self.session}"
        )

    async def _close(self, code: int, message: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):  # the transport is gone
            await self.ws.close(code=code, message=message.encode())

    async def shutdown(self, code: int, message: str) -> None:
        """Close now and wait for the close handshake: used when the hub stops."""
        self._closing = True
        await self._close(code, message)

    async def stop(self) -> None:
        """Wait for a close started by ``close`` (the reader loop has ended)."""
        self._closing = True
        if self._closer is not None:
            await self._closer


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


class Subscriptions:
    """Which peers receive which topic; delivering a frame is one loop over a set."""

    def __init__(self) -> None:
        self._by_topic: dict[str, set[Peer]] = collections.defaultdict(set)

    def add(self, topic: str, peer: Peer, seq: int = 0) -> None:
        """Subscribe ``peer`` to ``topic``, every event after ``seq`` being sent to it.

        Subscribing again keeps the lower of the two seqs: both stay true.
        """
        start = peer.topics.get(topic)
        if start is None:
            self._by_topic[topic].add(peer)
            peer.topics[topic] = seq
        elif seq < start:
            peer.topics[topic] = seq

    def discard(self, topic: str, peer: Peer) -> None:
        """Unsubscribe ``peer`` from ``topic`` (no error when it was not subscribed)."""
        peers = self._by_topic.get(topic)
        if peers is not None:
            peers.discard(peer)
            if not peers:
                del self._by_topic[topic]
        peer.topics.pop(topic, None)

    def drop(self, peer: Peer) -> None:
        """Remove ``peer`` from every topic."""
        for topic in list(peer.topics):
            self.discard(topic, peer)

    def deliver(self, topic: str, payload: bytes) -> None:
        """Frame ``payload`` once and write the same bytes to every subscriber of ``topic``."""
        peers = self._by_topic.get(topic)
        if peers:
            frame = ws_frame(payload)
            for peer in peers:
                peer.write(frame)

    def peers(self, topic: str) -> Iterable[Peer]:
        """The subscribers of ``topic``."""
        return tuple(self._by_topic.get(topic, ()))

    def count(self) -> int:
        """Subscriptions held in all."""
        return sum(len(p) for p in self._by_topic.values())
