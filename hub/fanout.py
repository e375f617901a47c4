"""Fan-out: peers with bounded outbound queues, topic streams with seq/epoch, and subscriptions.

An event is serialized once (``protocol.messages.encode_event``) and the same ``bytes`` object is
appended to every subscriber's queue.  Each peer has exactly one writer task draining its queue,
so a slow socket only ever delays itself; a peer whose queue passes the frame or byte limit is
closed with 1013 ("slow consumer") and may reconnect and recover.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
from collections.abc import Iterable

from aiohttp import WSCloseCode, WSMsgType, web

from protocol.messages import encode_event

log = logging.getLogger(__name__)

SLOW_CONSUMER = 1013


class Peer:
    """One WebSocket connection: its outbound queue, writer task, subscriptions and player."""

    __slots__ = (
        "_closer",
        "_closing",
        "_drained",
        "_queue",
        "_queued_bytes",
        "_wake",
        "_writer",
        "max_bytes",
        "max_frames",
        "player",
        "session",
        "topics",
        "ws",
    )

    def __init__(self, ws: web.WebSocketResponse, *, max_frames: int, max_bytes: int) -> None:
        self.ws = ws
        self.session = secrets.token_urlsafe(12)
        self.player: str | None = None
        self.topics: set[str] = set()
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._drained = asyncio.Event()

    def start(self) -> None:
        """Start the writer task."""
        self._writer = asyncio.create_task(self._write_loop(), name=f"peer-writer-{self.session}")

    @property
    def closing(self) -> bool:
        """True once the peer is being closed; nothing more is queued."""
        return self._closing or self.ws.closed

    def send(self, data: bytes) -> None:
        """Queue a frame without blocking; a full queue closes the peer with 1013."""
        if self._closing:
            return
        if len(self._queue) >= self.max_frames or self._queued_bytes + len(data) > self.max_bytes:
            log.info("closing slow consumer session=%s player=%s", self.session, self.player)
            self.close(SLOW_CONSUMER, "slow consumer")
            return
        self._queue.append(data)
        self._queued_bytes += len(data)
        self._wake.set()

    def close(self, code: int, message: str) -> None:
        """Stop queueing, drop what is queued and close the socket with ``code``."""
        if self._closing:
            return
        self._closing = True
        self._queue.clear()
        self._queued_bytes = 0
        if self._writer is not None:
            self._writer.cancel()
        self._closer = asyncio.create_task(
            self._close(code, message), name=f"peer-close-{self.session}"
        )

    async def _close(self, code: int, message: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):  # the transport is gone
            await self.ws.close(code=code, message=message.encode())

    async def flush_and_close(self, code: int, message: str) -> None:
        """Send what is queued (briefly), then close: used at shutdown."""
        if not self._closing and self._queue:
            self._drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), 1.0)
        self._closing = True
        if self._writer is not None:
            self._writer.cancel()
        await self._close(code, message)

    async def stop(self) -> None:
        """Cancel the writer task and wait for it (the socket is already closed)."""
        self._closing = True
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self._closer is not None:
            await self._closer

    async def _write_loop(self) -> None:
        queue, ws = self._queue, self.ws
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while queue:
                    data = queue.popleft()
                    self._queued_bytes -= len(data)
                    await ws.send_frame(data, WSMsgType.TEXT)
                self._drained.set()
        except (ConnectionError, RuntimeError):
            # The peer went away mid-write; the reader side notices and cleans up.
            self._closing = True
        except asyncio.CancelledError:
            raise
        except Exception:  # pragma: no cover - a bug; log it and drop the peer
            log.exception("writer for session %s failed", self.session)
            self.close(WSCloseCode.INTERNAL_ERROR, "server error")


class Stream:
    """The in-memory history of one topic: ``epoch``, latest ``seq`` and a ring of frames."""

    __slots__ = ("epoch", "ring", "seq", "topic")

    def __init__(self, topic: str, history: int) -> None:
        self.topic = topic
        self.epoch = secrets.token_urlsafe(8)
        self.seq = 0
        self.ring: collections.deque[tuple[int, bytes]] = collections.deque(maxlen=history)

    def append(self, event: str, data: object, ts: int) -> bytes:
        """Number and serialize an event, keep it in the ring, return its frame."""
        self.seq += 1
        frame = encode_event(self.topic, self.seq, ts, event, data)
        self.ring.append((self.seq, frame))
        return frame

    def since(self, seq: int) -> list[bytes] | None:
        """Frames after ``seq``, or None when some of them are no longer held."""
        if seq >= self.seq:
            return []
        if not self.ring or self.ring[0][0] > seq + 1:
            return None
        return [frame for s, frame in self.ring if s > seq]


class Subscriptions:
    """Which peers receive which topic; delivering a frame is one loop over a set."""

    def __init__(self) -> None:
        self._by_topic: dict[str, set[Peer]] = collections.defaultdict(set)

    def add(self, topic: str, peer: Peer) -> None:
        """Subscribe ``peer`` to ``topic``."""
        self._by_topic[topic].add(peer)
        peer.topics.add(topic)

    def discard(self, topic: str, peer: Peer) -> None:
        """Unsubscribe ``peer`` from ``topic`` (no error when it was not subscribed)."""
        peers = self._by_topic.get(topic)
        if peers is not None:
            peers.discard(peer)
            if not peers:
                del self._by_topic[topic]
        peer.topics.discard(topic)

    def drop(self, peer: Peer) -> None:
        """Remove ``peer`` from every topic."""
        for topic in list(peer.topics):
            self.discard(topic, peer)

    def deliver(self, topic: str, frame: bytes) -> None:
        """Queue the same frame to every subscriber of ``topic``."""
        peers = self._by_topic.get(topic)
        if peers:
            for peer in tuple(peers):
                peer.send(frame)

    def peers(self, topic: str) -> Iterable[Peer]:
        """The subscribers of ``topic``."""
        return tuple(self._by_topic.get(topic, ()))

    def count(self) -> int:
        """Subscriptions held in all."""
        return sum(len(p) for p in self._by_topic.values())
