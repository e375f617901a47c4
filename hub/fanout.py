"""Fan-out: peers and subscriptions (each topic's stream and history are in ``hub.streams``).

An event is serialized once (``protocol.messages.encode_event``) and framed once as an unmasked
WebSocket text frame (``hub.frames.ws_frame``); the same ``bytes`` object is then written to every
subscriber's transport.  Writing never blocks: asyncio's transport keeps what the kernel did not
take yet, and that backlog, with what the kernel holds for the socket, *is* the peer's outbound
queue.  A peer whose queue passes the frame or byte limit is a slow consumer: it is closed with
1013 and may reconnect and recover.  So one slow socket never stalls a game, and there is no task
per peer nor per message.

Counting the kernel's share costs a system call (``SIOCOUTQ``), so a peer keeps an upper bound of
its queue instead: what was queued when it was last measured plus everything written since.  Only
when that bound passes a limit is the queue measured again; a peer that keeps up is measured about
once per ``max_frames`` frames.  The kernel does not know frames: its share is counted in frames
of the average size of those written since the last measurement.

Every close is bounded: a peer that has not completed its close ``close_timeout`` seconds after
it began is aborted, and so is one whose handler ended with the socket still flushing.

Frames go straight to the transport because the app never negotiates permessage-deflate (see
``hub.ws``), so a text frame is only a header and the payload; aiohttp's own writer still sends
pings and the close frame on the same transport, each write whole.  Pongs are the hub's
(``pong_frame``), queued and counted like any frame.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
import socket
import struct
import sys
from collections.abc import Callable, Iterable

from aiohttp import web

from hub.frames import close_frame, text_frames, ws_frame
from protocol.messages import MAX_FRAME

log = logging.getLogger(__name__)

SLOW_CONSUMER = 1013
# The finished games whose subscriptions a connection keeps (``Subscriptions.finish``).
FINISHED_KEPT = 4

if sys.platform == "linux":
    import fcntl
    import termios

    _INT = struct.Struct("i")
    _ZERO = bytes(_INT.size)

    def kernel_queue(fd: int) -> int:
        """Bytes the kernel holds for a socket that the peer has not acknowledged (SIOCOUTQ)."""
        try:
            return int(_INT.unpack(fcntl.ioctl(fd, termios.TIOCOUTQ, _ZERO))[0])
        except (OSError, ValueError):  # closed meanwhile
            return 0

else:  # pragma: no cover - the kernel's share cannot be read; Peer caps it instead

    def kernel_queue(fd: int) -> int:
        """Unknown on this system: ``Peer`` caps the socket's send buffer instead."""
        return 0


_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() resets the connection
CAPPED_SNDBUF = 64 * 1024  # where the kernel's queue cannot be read, the most it may hold


class Peer:
    """One WebSocket connection: its transport, queue accounting, subscriptions and player."""

    __slots__ = (
        "_byte_room",
        "_bytes",
        "_closer",
        "_closing",
        "_deadline",
        "_fd",
        "_frame_room",
        "_frames",
        "_held",
        "_protocol",
        "_transport",
        "busy",
        "close_code",
        "close_timeout",
        "finished",
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
        request: web.BaseRequest,
        transport: asyncio.Transport,
        *,
        max_frames: int,
        max_bytes: int,
        close_timeout: float,
    ) -> None:
        self.ws = ws
        self.session = secrets.token_urlsafe(12)
        self.player: str | None = None
        # Each topic with the seq after which every event was sent on this connection.
        self.topics: dict[str, int] = {}
        self.finished: list[str] | None = None  # finished games' topics still held, oldest first
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.close_timeout = close_timeout
        self._protocol = request.protocol
        self._transport = transport
        sock = transport.get_extra_info("socket")
        self._fd: int = sock.fileno() if sock is not None else -1
        if sys.platform != "linux" and sock is not None:  # pragma: no cover
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CAPPED_SNDBUF)
        # The hub bounds this socket's queue itself.  aiohttp's own writes (close, ping, pong)
        # wait for the transport to drain, with no bound: so flow control must never pause it.
        transport.set_write_buffer_limits(high=max_bytes + 2 * MAX_FRAME)
        self._frames = 0  # upper bounds of the queue (transport and kernel) in frames...
        self._bytes = 0  # ...and in bytes: as last measured, plus everything written since
        # The limits, raised for a while by an answer's burst (see ``answer``).
        self._frame_room = max_frames
        self._byte_room = max_bytes
        self._closing = False
        self.busy = False  # a request of this peer is being handled
        self._held: list[bytes] | None = None  # frames written meanwhile (see ``begin``)
        self._closer: asyncio.Task[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self.close_code: int | None = None  # why the hub closed it, when it did

    @property
    def closing(self) -> bool:
        """True once the peer is being closed; nothing more is written."""
        return self._closing or self.ws.closed

    def begin(self) -> None:
        """A request of this peer is being handled: frames written to it meanwhile are held
        (counted against its limits) until ``end`` writes them at once: one send per move."""
        self.busy, self._held = True, []

    def end(self) -> bool:
        """The request is answered: write what was held, in order; whether the peer is
        ``closing`` (told here, as the handler asks it after every request)."""
        self.busy, (held, self._held) = False, (self._held, None)
        if self._closing or self.ws.closed:
            return True
        if held and not self._transport.is_closing():
            self._transport.write(b"".join(held))
        return False

    def send(self, payload: bytes) -> None:
        """Frame and write one message (a reply or a single peer's event)."""
        self.write(ws_frame(payload))

    def write(self, frame: bytes, frames: int = 1) -> None:
        """Write a ready frame without blocking (or ``frames`` of them joined in one ``frame``:
        a move's events, one send); a queue over the limits closes with 1013."""
        if self._closing:
            return
        transport = self._transport
        if self._held is None:  # a held frame is checked at the end of its request (``end``)
            if self.ws.closed:
                return
            if transport.is_closing():
                self._closing = True
                return
        n = len(frame)
        full = self._frames + frames > self._frame_room or self._bytes + n > self._byte_room
        if full and not self._fits(frames, n):
            self._slow()
            return
        self._frames += frames
        self._bytes += n
        if self._held is not None:
            self._held.append(frame)
        else:
            transport.write(frame)

    def answer(self, frames: list[bytes]) -> None:
        """Write a reply and the events it brings (a recovery) at once, whatever their number.

        The peer asked for them: they may take its queue past the limits by their own size, as
        long as what was queued before them is within the limits.  So recovering a topic's whole
        history always works, and a client that asks for it again and again without reading is
        still closed.
        """
        if self._closing:
            return
        if self._held is None:  # held frames are checked at the end of their request
            if self.ws.closed:
                return
            if self._transport.is_closing():
                self._closing = True
                return
        full = self._frames > self._frame_room or self._bytes > self._byte_room
        if full and not self._fits(0, 0):
            self._slow()
            return
        size = sum(map(len, frames))
        self._frame_room = max(self._frame_room, self.max_frames + len(frames))
        self._byte_room = max(self._byte_room, self.max_bytes + size)
        self._frames += len(frames)
        self._bytes += size
        if self._held is not None:
            self._held.extend(frames)
        else:
            self._transport.write(b"".join(frames))

    def _fits(self, k: int, n: int) -> bool:
        """Measure the queue; whether ``k`` more frames of ``n`` bytes in all fit in it.

        The bounds are reset to the measured queue, and the limits to their own values once
        the queue is back within them.
        """
        queued = self._transport.get_write_buffer_size() + kernel_queue(self._fd)
        queued += sum(map(len, self._held or ()))  # held for the end of a request: queued too
        frames, size = self._frames, self._bytes
        # In frames of the average size written: -(-a // b) rounds up, as a few bytes still
        # queued are part of a whole frame.
        frames = min(frames, -(-queued * frames // size)) if queued and size else 0
        self._frames, self._bytes = frames, queued
        if frames <= self.max_frames and queued <= self.max_bytes:
            self._frame_room, self._byte_room = self.max_frames, self.max_bytes
        # A limit bounds a backlog: one frame, however large, to a peer with none is not one.
        return not queued or (frames + k <= self._frame_room and queued + n <= self._byte_room)

    def _slow(self) -> None:
        log.info("closing slow consumer session=%s player=%s", self.session, self.player)
        self.close(SLOW_CONSUMER, "slow consumer")

    def close(self, code: int, message: str) -> None:
        """Stop writing and close the socket with ``code`` (in the background, bounded)."""
        if self._closing:
            return
        self._closing = True
        self.close_code = code
        self._abort_in(self.close_timeout)
        self._closer = asyncio.create_task(
            self._close(code, message), name=f"peer-close-{self.session}"
        )

    async def _close(self, code: int, message: str) -> None:
        try:
            async with asyncio.timeout(self.close_timeout):
                await self.ws.close(code=code, message=message.encode())
        except TimeoutError:
            log.info("aborting session=%s: close not completed in time", self.session)
            self.abort()
        except (ConnectionError, RuntimeError):  # the transport is gone
            pass

    def _abort_in(self, seconds: float) -> None:
        if self._deadline is None:
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_later(seconds, self.abort)

    def abort(self) -> None:
        """Drop the connection now, whatever is still unsent (nothing once it is gone)."""
        if self._protocol.transport is None:  # the connection is already lost
            return
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            # A reset, so the kernel drops its queue too instead of keeping it for a client
            # that does not read.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        self._transport.abort()

    async def shutdown(self, code: int, message: str) -> None:
        """Close (unless already closing) and wait for it: used when the hub stops.

        A request being handled is finished first (a move read is a move stored).  A stopping
        aiohttp server reads nothing more from its connections, so the peer's answer to a close
        frame would never be seen: the frame is sent after what is queued, and the connection
        closed once that is flushed (aborted at the close deadline if it never is).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.close_timeout
        # Polled, once per stop: an Event per connection would cost every idle connection.
        while self.busy and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        if not self._closing and not self.ws.closed and not self._transport.is_closing():
            self._closing = True
            self.close_code = code
            self._abort_in(self.close_timeout)
            self._transport.write(close_frame(code, message))
            self._transport.close()
        await self.stop()

    async def stop(self) -> None:
        """Wait for a close in progress; a socket still flushing is aborted at its deadline.

        Whoever closed the WebSocket (the hub, or aiohttp on the client's close or a bad frame),
        asyncio keeps the socket until its buffer is sent: to a client that does not read, never.
        """
        self._closing = True
        if self._closer is not None:
            await self._closer
        if self._protocol.transport is not None and self._transport.get_write_buffer_size():
            self._abort_in(self.close_timeout)
        elif self._deadline is not None:  # closed cleanly: nothing left to abort
            self._deadline.cancel()
            self._deadline = None


class Subscriptions:
    """Which peers receive which topic; delivering a frame is one loop over a set."""

    def __init__(self) -> None:
        self._by_topic: dict[str, set[Peer]] = collections.defaultdict(set)
        # Told the game id when a game topic gains or loses a subscriber (spectator counts).
        self.on_game_change: Callable[[str], None] | None = None

    def add(self, topic: str, peer: Peer, seq: int = 0) -> None:
        """Subscribe ``peer`` to ``topic``, every event after ``seq`` being sent to it.

        Subscribing again keeps the lower of the two seqs: both stay true.
        """
        start = peer.topics.get(topic)
        if start is None:
            self._by_topic[topic].add(peer)
            peer.topics[topic] = seq
            self._changed(topic)
        elif seq < start:
            peer.topics[topic] = seq

    def discard(self, topic: str, peer: Peer) -> None:
        """Unsubscribe ``peer`` from ``topic`` (no error when it was not subscribed)."""
        peers = self._by_topic.get(topic)
        if peers is not None and peer in peers:
            peers.discard(peer)
            if not peers:
                del self._by_topic[topic]
            self._changed(topic)
        peer.topics.pop(topic, None)

    def _changed(self, topic: str) -> None:
        if self.on_game_change is not None and topic.startswith("game:"):
            self.on_game_change(topic[5:])

    def finish(self, topic: str) -> None:
        """``topic``, a game's, had its last event (``game_over``).  Each subscriber keeps the
        subscription of its last ``FINISHED_KEPT`` finished games and the oldest beyond them
        ends: without that a connection playing game after game held one for every game it
        ever played, and ending each at once would forget what the connection was sent, so a
        ``subscribe`` with ``since`` crossing the end on its way would get it a second time."""
        for peer in tuple(self._by_topic.get(topic, ())):
            finished = peer.finished
            if finished is None:
                finished = peer.finished = []
            finished.append(topic)
            if len(finished) > FINISHED_KEPT:
                self.discard(finished.pop(0), peer)

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

    def deliver_all(self, topic: str, payloads: list[bytes]) -> None:
        """``deliver`` each of ``payloads`` in order (a move's events: one call)."""
        peers = self._by_topic.get(topic)
        if peers:
            # The frames joined once: one write (one send) a subscriber, each frame counted.
            data, count = b"".join(text_frames(payloads)), len(payloads)
            for peer in peers:
                peer.write(data, count)

    def peers(self, topic: str) -> Iterable[Peer]:
        """The subscribers of ``topic``."""
        return tuple(self._by_topic.get(topic, ()))

    def count(self) -> int:
        """Subscriptions held in all."""
        return sum(len(p) for p in self._by_topic.values())
