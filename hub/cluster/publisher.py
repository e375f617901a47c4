"""A node's game-topic frames to the other nodes: PUBLISH on a connection of its own, no replies.

A game topic's frames are numbered and stored by PostgreSQL; Redis only carries them to the other
nodes' relays, which never trust pub/sub to be complete (a lost frame is caught up from
PostgreSQL within the relay's sweep).  Nothing waits for what Redis answers to a PUBLISH, so the
node's publishing connection says ``CLIENT REPLY OFF`` once and then only writes: one write per
batch, no reply to read and parse, no round trip, no task or timer per command as redis-py's
client makes them (a third of a cluster node's extra CPU per move went there).

``send(messages)`` writes every ``(channel, message)`` as ``PUBLISH`` in one write, in order,
connecting first when there is no connection (the handshake, TLS and ACL are redis-py's).  A
write that fails, or does not get into the socket within ``timeout`` s (a stalled Redis), drops
the connection and raises; the next ``send`` connects again.  A reader task watches the
connection: its end is noticed at once (frames written just before it are lost, as pub/sub may
lose them anyway), and should Redis refuse ``CLIENT REPLY OFF`` (an ACL user without the
``client`` command) the replies are read and dropped there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)

REPLY_OFF = b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n"


def packed(channel: bytes, message: bytes) -> bytes:
    """``PUBLISH channel message`` in RESP."""
    return b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (
        len(channel),
        channel,
        len(message),
        message,
    )


class Publisher:
    """One reply-less connection to Redis that publishes, in order."""

    def __init__(self, url: str, *, connect_timeout: float = 1.0, timeout: float = 2.0) -> None:
        self._pool: ConnectionPool = ConnectionPool.from_url(
            url,
            protocol=2,
            socket_connect_timeout=connect_timeout,
            socket_timeout=None,  # no task per write: ``send`` bounds the whole write itself
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
        )
        self._timeout = timeout
        self._conn: AbstractConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self.connects = 0  # connections made
        self.replies = 0  # replies read: none while Redis honours CLIENT REPLY OFF

    async def send(self, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """PUBLISH each ``(channel, message)``, in order, in one write (connecting first when
        needed).  Raises what broke (redis-py's errors, ``OSError``, ``TimeoutError``)."""
        if not messages:
            return
        data = [packed(channel, message) for channel, message in messages]
        try:
            async with asyncio.timeout(self._timeout):
                conn = self._conn
                if conn is None or not conn.is_connected:
                    conn = await self._connect()
                await conn.send_packed_command(data, check_health=False)
        except BaseException:
            await self.close()
            raise

    async def _connect(self) -> AbstractConnection:
        await self.close()
        conn: AbstractConnection = self._pool.make_connection()  # type: ignore[no-untyped-call]
        self._conn = conn
        await conn.connect()  # type: ignore[no-untyped-call]
        await conn.send_packed_command([REPLY_OFF], check_health=False)
        self._reader = asyncio.create_task(self._read(conn), name="publisher replies")
        self.connects += 1
        return conn

    async def _read(self, conn: AbstractConnection) -> None:
        """Read whatever Redis answers: nothing, unless it refused ``CLIENT REPLY OFF`` (an ACL
        user without ``client``), when each PUBLISH's reply is read and dropped here rather than
        left to fill Redis's output buffer; and the connection's end, at once."""
        refused = False
        while True:
            try:
                await conn.read_response()
            except ResponseError as exc:
                if not refused:
                    log.warning("Redis refused CLIENT REPLY OFF (%s): its replies are read", exc)
                    refused = True
            except Exception:  # closed or broken: the next send connects again
                if self._conn is conn:
                    self._conn = None
                await conn.disconnect(nowait=True)
                return
            self.replies += 1

    async def close(self) -> None:
        """Drop the connection (the next ``send`` opens another)."""
        conn, self._conn = self._conn, None
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if conn is not None:
            await conn.disconnect(nowait=True)
