"""The relay: every event of a topic with subscribers on this node, to them, once, in order.

Theory of operation.  Each node runs one ``Relay``.  A topic with local subscribers is *watched*:
the relay holds its cursor ``(epoch, seq)``, the last event delivered here, and the node's one
subscription to the topic's channel (however many local subscribers it has).  Each message on a
channel is ``<epoch> <frame>``, or the epoch and a space followed by several frames of the topic
in order, each after a newline (a frame is JSON text: it holds no newline), each then taken as
a message of its own; for the cursor's epoch:

- ``seq == cursor + 1``: ``deliver(topic, seq, frame)``, the cursor moves on (the hot path: one dict
  lookup, a prefix test that checks epoch, topic and where the seq is at once, an int compare);
- ``seq <= cursor``: a duplicate (this node's own event coming back, a second publish): dropped;
- ``seq > cursor + 1``: a gap.  ``catch_up(topic, epoch, cursor)`` reads what followed the cursor
  from the topic's log and those frames are delivered first.  While it awaits, what arrives for
  that topic queues behind it (one task drains a topic's queue at a time; other topics go on).

A message of another epoch means the topic's history was lost: ``reset(topic)`` (the node closes
the topic's subscribers with 1001, they come back for a snapshot) and the cursor moves to the new
epoch.  The old epoch is retired: a late message of it is dropped rather than flipping back.  A
log that cannot give what followed the cursor (``catch_up`` answers None, or starts past the
cursor + 1) is a reset too.  ``catch_up`` failing (its store down) leaves the cursor: the sweep
tries again.

Nothing trusts pub/sub to be complete: every ``sweep_interval`` seconds, and for a topic as soon
as its subscription is confirmed (so after every reconnection; the topics confirmed within
``confirm_delay`` of each other are asked together), ``heads(topics)`` (one call) tells
each topic's head, and a topic whose head is past its cursor catches up.  That is what saves a
subscriber when a node died between storing an event and publishing it, or when messages were
published while this node's connection was down.  ``heads`` is the authority on epochs: it may
bring back an epoch the relay retired.

``offer(topic, epoch, seq, frame)`` is this node's own event: delivered here at once (a gap
before it is caught up first), so a reply still follows the events it caused; its echo from
Redis is then a duplicate.  ``deliver`` and ``reset`` must not raise; when they do, the relay
logs it and goes on.

Guarantees, per watched topic: ``deliver`` is only ever called with the frame of seq cursor + 1
of the cursor's epoch, so whatever Redis does (loses, repeats, reorders, disconnects) no frame
comes twice, out of order, or after a hole: a hole is filled from the log or the topic is reset.
A published frame is delivered when its message is read; one that pub/sub lost, or that was
never published, within ``sweep_interval`` (plus a ``heads`` and a ``catch_up`` call), or
within ``confirm_delay`` of the subscriptions being confirmed again after a reconnection.
Cost: about 1 us of CPU per message in ``_receive``, 3 us with redis-py reading it (one relay
took 160-240k messages/s on a loaded 2-core machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from hub.cluster.relay_cursor import Cursor, Item, parse_seq
from hub.cluster.relay_link import Link

log = logging.getLogger(__name__)

__all__ = ["Relay", "parse_seq"]

CatchUp = Callable[[str, str, int], Awaitable[list[tuple[int, bytes]] | None]]
Heads = Callable[[list[str]], Awaitable[dict[str, tuple[str, int]]]]


class Relay:
    """Brings each watched topic's events to this node's subscribers exactly once, in order."""

    def __init__(
        self,
        url: str,
        channel: Callable[[str], str],
        deliver: Callable[[str, int, bytes], None],
        catch_up: CatchUp,
        heads: Heads,
        reset: Callable[[str], None],
        *,
        sweep_interval: float = 1.0,
        confirm_delay: float = 0.05,
        ping_interval: float = 1.0,
        call_timeout: float = 10.0,
    ) -> None:
        self._channel = channel
        self._deliver = deliver
        self._catch_up_from = catch_up
        self._heads = heads
        self._reset = reset
        self.sweep_interval = sweep_interval
        self.confirm_delay = confirm_delay  # seconds confirmed topics wait to be asked together
        self.call_timeout = call_timeout  # seconds a catch_up or heads call may take
        self._topics: dict[str, Cursor] = {}
        self._channels: dict[bytes, Cursor] = {}
        self._check: set[str] = set()  # topics whose head to ask at once
        self._wake = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None
        self._workers: set[asyncio.Task[None]] = set()  # catching up, one per busy topic
        self._link = Link(
            url, self._channels, self._receive, self._subscribed, ping_interval=ping_interval
        )
        self._quiet_until = 0.0
        self.received = 0  # messages read from Redis for watched topics
        self.delivered = 0  # frames delivered (live, offered and caught up)
        self.duplicates = 0  # frames at or below the cursor, dropped
        self.caught_up = 0  # frames delivered from ``catch_up``
        self.resets = 0  # ``reset`` calls
        self.stale = 0  # messages of a retired epoch, dropped
        self.malformed = 0  # messages without an epoch or a seq, dropped
        self.failures = 0  # ``catch_up`` or ``heads`` calls that raised

    @property
    def healthy(self) -> bool:
        """False while the pub/sub connection is down (or not yet subscribed)."""
        return self._link.healthy

    @property
    def counters(self) -> dict[str, int]:
        """The relay's counts, for metrics."""
        return {
            "received": self.received,
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "caught_up": self.caught_up,
            "resets": self.resets,
            "stale": self.stale,
            "malformed": self.malformed,
            "failures": self.failures,
            "connects": self._link.connects,
        }

    async def start(self) -> None:
        """Connect (in the background: ``healthy`` tells when) and start sweeping."""
        self._link.start()
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_loop(), name="relay sweep")

    async def close(self) -> None:
        """Stop sweeping and catching up, disconnect."""
        tasks = list(self._workers)
        if self._sweeper is not None:
            tasks.append(self._sweeper)
            self._sweeper = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._link.close()

    def cursor(self, topic: str) -> tuple[str, int] | None:
        """``(epoch, last seq delivered here)`` of a watched topic; None when not watched."""
        t = self._topics.get(topic)
        return None if t is None else (t.epoch, t.seq)

    async def watch(self, topic: str, epoch: str, seq: int) -> tuple[str, int]:
        """Local subscribers of ``topic`` exist from now; they hold everything up to ``seq`` of
        ``epoch``.  The first watch subscribes the topic's channel.  A watched topic is brought
        to (epoch, seq): caught up when behind it, reset for another epoch.  The cursor after."""
        t = self._topics.get(topic)
        if t is None:
            ch = self._channel(topic).encode()
            t = self._topics[topic] = self._channels[ch] = Cursor(topic, ch, epoch.encode(), seq)
            self._link.want(ch)
        else:
            await self._put(t, (epoch.encode(), seq, None, None, True))
        return t.epoch, t.seq

    async def unwatch(self, topic: str) -> None:
        """No local subscriber of ``topic`` left: unsubscribe its channel, forget its cursor."""
        t = self._topics.pop(topic, None)
        if t is None:
            return
        del self._channels[t.channel]
        t.gone = True
        self._link.want(t.channel)

    async def offer(self, topic: str, epoch: str, seq: int, frame: bytes) -> None:
        """A frame this node just made: delivered here at once, in order (a gap before it is
        caught up first); at or below the cursor it is dropped.  Nothing for an unwatched
        topic."""
        t = self._topics.get(topic)
        if t is None:
            return
        if t.worker is None and seq == t.seq + 1 and epoch == t.epoch:
            self._forward(t, seq, frame)
            return
        await self._put(t, (epoch.encode(), seq, frame, None, False))

    # -- messages --------------------------------------------------------------------------

    def _receive(self, channel: bytes, data: bytes) -> None:
        """A message from Redis (the hot path)."""
        t = self._channels.get(channel)
        if t is None:
            return
        self.received += 1
        if t.worker is None and data.startswith(t.head):
            n = t.n
            digits = data[n : data.find(b",", n)]
            if digits.isdigit():
                seq = int(digits)
                if seq == t.seq + 1:
                    t.seq = seq
                    self.delivered += 1
                    try:
                        self._deliver(t.topic, seq, data[t.cut :])
                    except Exception:
                        log.exception("delivering %s %d failed", t.topic, seq)
                    return
                if seq <= t.seq:
                    self.duplicates += 1
                    return
        epoch, space, frame = data.partition(b" ")
        if frame[:1] == b"\n" and space:  # several frames of the topic, in order
            self.received -= 1  # counted per frame
            for part in frame[1:].split(b"\n"):
                self._receive(channel, epoch + b" " + part)
            return
        try:
            if not space:
                raise ValueError("no epoch")
            seq = parse_seq(frame)
        except ValueError as exc:
            self.malformed += 1
            log.warning("dropped a malformed message on %s: %s", t.topic, exc)
            return
        item: Item = (epoch, seq, frame, None, False)
        if t.worker is not None:
            t.pending.append(item)
        elif not self._step(t, item):
            self._queue(t, item)

    def _subscribed(self, channel: bytes) -> None:
        """Redis confirmed a subscription: what was published before it may be missing."""
        t = self._channels.get(channel)
        if t is not None:
            self._check.add(t.topic)
            self._wake.set()

    def _forward(self, t: Cursor, seq: int, frame: bytes) -> None:
        t.seq = seq
        self.delivered += 1
        try:
            self._deliver(t.topic, seq, frame)
        except Exception:
            log.exception("delivering %s %d failed", t.topic, seq)

    def _step(self, t: Cursor, item: Item) -> bool:
        """Apply an item to the cursor; False when a catch-up must come first."""
        epoch, seq, frame, _, authority = item
        if epoch == t.epoch_b:
            if seq <= t.seq:
                if frame is not None:
                    self.duplicates += 1
                return True
            if frame is not None and seq == t.seq + 1:
                self._forward(t, seq, frame)
                return True
            return False
        if not authority and epoch in t.retired:
            self.stale += 1
            return True
        self._restart(t, epoch, seq)
        return True

    def _restart(self, t: Cursor, epoch: bytes, seq: int) -> None:
        """The topic's history here is lost: subscribers start again from a snapshot."""
        if epoch != t.epoch_b:
            if epoch in t.retired:
                t.retired.remove(epoch)
            t.retired.append(t.epoch_b)
        t.move(epoch, seq)
        self.resets += 1
        try:
            self._reset(t.topic)
        except Exception:
            log.exception("resetting %s failed", t.topic)

    # -- catching up -----------------------------------------------------------------------

    async def _put(self, t: Cursor, item: Item) -> None:
        """Apply an item now, or queue it behind the topic's catch-up and wait for its turn."""
        if t.worker is None and self._step(t, item):
            return
        epoch, seq, frame, _, authority = item
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue(t, (epoch, seq, frame, done, authority))
        await done

    def _queue(self, t: Cursor, item: Item) -> None:
        t.pending.append(item)
        if t.worker is None:
            t.worker = asyncio.create_task(self._drain(t), name=f"relay {t.topic}")
            self._workers.add(t.worker)

    async def _drain(self, t: Cursor) -> None:
        """Work through a topic's queue, catching up where an item is past the cursor."""
        pending = t.pending
        failed = False  # catch_up raised: the rest waits for the next sweep
        try:
            while pending and not t.gone:
                item = pending[0]
                if not self._step(t, item) and not failed:
                    failed = not await self._catch_up(t, item[1])
                    if not t.gone and not failed:
                        self._step(t, item)  # the frame itself, if still past the cursor
                pending.popleft()
                _resolve(item[3])
        finally:
            if t.worker is not None:
                self._workers.discard(t.worker)
            t.worker = None
            for item in pending:
                _resolve(item[3])
            pending.clear()

    async def _catch_up(self, t: Cursor, seq: int) -> bool:
        """Deliver what the log holds after the cursor (up to ``seq`` at least); False when
        ``catch_up`` raised."""
        epoch, after = t.epoch_b, t.seq
        try:
            async with asyncio.timeout(self.call_timeout):
                got = await self._catch_up_from(t.topic, t.epoch, after)
        except Exception as exc:
            self.failures += 1
            self._complain("catching up %s failed: %s", t.topic, exc)
            return False
        if t.gone or t.epoch_b != epoch:
            return True
        if got is None:
            self._restart(t, epoch, max(seq, t.seq))
            return True
        for s, frame in got:
            if s == t.seq + 1:
                self._forward(t, s, frame)
                self.caught_up += 1
            elif s > t.seq:  # the log lost what follows the cursor
                self._restart(t, epoch, max(seq, got[-1][0]))
                return True
        return True

    # -- sweeping --------------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + self.sweep_interval
        while True:
            wait = due - loop.time()
            if not self._check and wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                # Confirmations come one by one (a new game's topic each): asked together.
                await asyncio.sleep(min(self.confirm_delay, max(0.0, due - loop.time())))
            if loop.time() >= due:
                topics = list(self._topics)
                self._check.clear()
                due = loop.time() + self.sweep_interval
            else:
                topics = [name for name in self._check if name in self._topics]
                self._check.clear()
            if topics:
                await self._sweep(topics)

    async def _sweep(self, topics: list[str]) -> None:
        """Catch up every topic whose head is past its cursor."""
        asked = {name: (self._topics[name], self._topics[name].epoch_b) for name in topics}
        try:
            async with asyncio.timeout(self.call_timeout):
                heads = await self._heads(topics)
        except Exception as exc:
            self.failures += 1
            self._complain("asking the topics' heads failed: %s", exc)
            return
        for name, (epoch, seq) in heads.items():
            t = self._topics.get(name)
            # A topic unwatched, or moved to another epoch meanwhile: this head is older news.
            if t is None or asked.get(name) != (t, t.epoch_b):
                continue
            item: Item = (epoch.encode(), seq, None, None, True)
            if t.worker is not None:
                t.pending.append(item)
            elif not self._step(t, item):
                self._queue(t, item)

    def _complain(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now >= self._quiet_until:  # one line a minute at most
            log.warning(message, *args)
            self._quiet_until = now + 60


def _resolve(done: asyncio.Future[None] | None) -> None:
    if done is not None and not done.done():
        done.set_result(None)
