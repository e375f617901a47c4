"""The relay's subscriber connection to Redis: one per node, whatever the number of topics.

``Link`` keeps one pub/sub connection subscribed to exactly the channels of the relay's
``channels`` mapping, and hands every message to ``on_message(channel, data)`` as it is read.
``want(channel)`` notes that a channel was added to or removed from the mapping; a task then
sends what changed (one ``SUBSCRIBE`` and one ``UNSUBSCRIBE`` for everything noted meanwhile),
under a lock, computed from the mapping as it is when sent: a watch and an unwatch racing each
other leave the connection as the mapping says, never in the order they were asked, and
neither waits for Redis.

When Redis drops the connection (or stops answering: a PING goes out after a quiet
``ping_interval``, and a second quiet interval ends the connection), ``healthy`` turns False and
the link connects again after 50 ms, doubling to 1 s between attempts; the new connection
subscribes every channel of the mapping and sends a PING behind them; its PONG means every
subscription is in place: ``healthy`` turns True.  Each channel's confirmation is reported with
``on_subscribed(channel)``: the relay then asks for the topic's head, since what was published
before the subscription took effect did not reach this node.

The connection is redis-py's, in RESP2 (pub/sub messages are plain replies there), read by one
task, without a socket timeout (redis-py 8 sets 5 s by default, which costs a timer around every
read); reading costs 1.4-3 us of CPU per message (a bare asyncio protocol feeding hiredis costs
0.6-0.9 us: not worth owning the handshake, TLS and ACL code for).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

log = logging.getLogger(__name__)

FIRST_BACKOFF = 0.05  # seconds before the first reconnection attempt
MAX_BACKOFF = 1.0  # the longest wait between attempts
CONNECT_TIMEOUT = 1.0  # seconds to open the connection
BATCH = 1000  # channels per SUBSCRIBE command

Command = tuple[str | bytes, ...]


class Link:
    """One pub/sub connection holding the relay's channels, reconnecting when Redis drops."""

    def __init__(
        self,
        url: str,
        channels: Mapping[bytes, object],
        on_message: Callable[[bytes, bytes], None],
        on_subscribed: Callable[[bytes], None],
        *,
        ping_interval: float = 1.0,
    ) -> None:
        self._pool: ConnectionPool = ConnectionPool.from_url(
            url,
            protocol=2,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=None,  # no timer per message read: quiet links are found by PING
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),  # this link's own loop retries, with its backoff
        )
        self._channels = channels
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._ping_interval = ping_interval
        self._conn: AbstractConnection | None = None  # the live connection, else None
        self._sent: set[bytes] = set()  # channels subscribed on ``_conn``
        self._dirty: set[bytes] = set()  # channels changed since the last flush
        self._lock = asyncio.Lock()
        self._heard = False  # something was read since the last look
        self._confirming = False  # the PING behind a (re)subscription is on its way
        self._task: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None  # sending what ``want`` noted
        self.healthy = False
        self.connects = 0  # connections made (1 + reconnections)

    def start(self) -> None:
        """Connect in the background (and again whenever the connection is lost)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="relay link")

    async def close(self) -> None:
        """Disconnect for good."""
        for task in (self._flusher, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._flusher = None
        self.healthy = False

    def want(self, channel: bytes) -> None:
        """``channel`` was added to or removed from the mapping: tell Redis soon (one command
        for every change made meanwhile; nothing while disconnected: the next connection
        subscribes the whole mapping)."""
        self._dirty.add(channel)
        if self._conn is not None and self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="relay subscriptions")

    async def _flush(self) -> None:
        try:
            while self._dirty and (conn := self._conn) is not None:
                async with self._lock:
                    if self._conn is conn:
                        await self._send(conn, self._changes())
        finally:
            self._flusher = None

    def _changes(self) -> list[Command]:
        subscribe = [c for c in self._dirty if c in self._channels and c not in self._sent]
        drop = [c for c in self._dirty if c not in self._channels and c in self._sent]
        self._dirty.clear()
        self._sent.update(subscribe)
        self._sent.difference_update(drop)
        commands: list[Command] = []
        for verb, chans in (("SUBSCRIBE", subscribe), ("UNSUBSCRIBE", drop)):
            for i in range(0, len(chans), BATCH):
                commands.append((verb, *chans[i : i + BATCH]))
        return commands

    async def _send(self, conn: AbstractConnection, commands: list[Command]) -> None:
        # A connection the reader found broken is not reopened by redis-py behind our back.
        if not commands or not conn.is_connected:
            return
        try:
            async with asyncio.timeout(2 * self._ping_interval + CONNECT_TIMEOUT):
                await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
        except (RedisError, OSError, TimeoutError) as exc:
            log.debug("writing to the relay's Redis connection failed: %s", exc)
            await conn.disconnect(nowait=True)

    async def _run(self) -> None:
        delay = FIRST_BACKOFF
        while True:
            conn: AbstractConnection = self._pool.make_connection()  # type: ignore[no-untyped-call]
            try:
                async with asyncio.timeout(2 * CONNECT_TIMEOUT):  # the handshake too
                    await conn.connect()  # type: ignore[no-untyped-call]
                self.connects += 1
                await self._serve(conn)
            except (RedisError, OSError, TimeoutError) as exc:
                if self.healthy or delay == FIRST_BACKOFF:
                    log.warning("the relay's Redis connection is down: %s", exc)
            except Exception:
                log.exception("the relay's Redis connection failed")
            finally:
                if self.healthy:
                    delay = FIRST_BACKOFF
                self._conn = None
                self.healthy = False
                self._confirming = False
                await conn.disconnect(nowait=True)
            await asyncio.sleep(delay)
            delay = min(2 * delay, MAX_BACKOFF)

    async def _serve(self, conn: AbstractConnection) -> None:
        """Subscribe everything, then read until the connection breaks or goes quiet."""
        self._sent = set()
        self._dirty = set(self._channels)
        self._heard = True
        self._conn = conn
        reader = asyncio.create_task(self._read(conn), name="relay reader")
        try:
            async with self._lock:
                self._confirming = True
                await self._send(conn, [*self._changes(), ("PING",)])
            pinged = False
            while True:
                done, _ = await asyncio.wait((reader,), timeout=self._ping_interval)
                if done:
                    reader.result()  # raises what broke it
                    raise ConnectionError("the relay's reader stopped")
                if self._heard:
                    self._heard, pinged = False, False
                elif pinged:
                    raise TimeoutError(f"Redis did not answer for {2 * self._ping_interval} s")
                else:
                    async with self._lock:
                        await self._send(conn, [("PING",)])
                    pinged = True
        finally:
            reader.cancel()
            await asyncio.wait((reader,))
            if not reader.cancelled():
                reader.exception()  # retrieved: it was raised above, or is the same breakage

    async def _read(self, conn: AbstractConnection) -> None:
        read = conn.read_response
        on_message = self._on_message
        while True:
            try:
                reply = await read()
            except ResponseError as exc:  # a refused SUBSCRIBE: the sweep still catches up
                log.error("Redis refused a relay command: %s", exc)
                continue
            self._heard = True
            if reply[0] == b"message":
                try:
                    on_message(reply[1], reply[2])
                except Exception:
                    log.exception("relaying a message failed")
            elif reply[0] == b"subscribe":
                self._on_subscribed(reply[1])
            elif (reply == b"PONG" or reply[0] == b"pong") and self._confirming:
                self._confirming = False
                self.healthy = True
