"""``RedisState``'s commands on one connection, in order, as many in flight as callers want.

redis-py's client costs 50-90 us of CPU per command (a connection taken from a pool and given
back, a retry wrapper, its response callbacks, and with a socket timeout a task of its own per
write).  ``Commands`` keeps one connection (the handshake, TLS and ACL are redis-py's) and
pipelines whatever its callers send: ``call(*args)`` writes the command at once (before any other
task can write: the order of writes is the order of the replies) and awaits its reply, which
one reader task hands back in the order they come.  Replies are Redis's own (RESP2, bytes; an
error reply raises redis-py's exception for it, ``NoScriptError`` included).

A broken connection fails every call waiting on it (redis-py's ``ConnectionError``) and the next
call connects again; calls are never retried (a commit must not run twice).  A caller that stops
waiting leaves its place in the queue (its reply, when it comes, is dropped); one that timed out
calls ``reset``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError


class Commands:
    """One pipelined connection to Redis for request/reply commands."""

    def __init__(self, url: str, *, connect_timeout: float = 1.0) -> None:
        self._pool: ConnectionPool = ConnectionPool.from_url(
            url,
            protocol=2,
            socket_connect_timeout=connect_timeout,
            socket_timeout=None,  # each caller bounds its own wait
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
        )
        self._conn: AbstractConnection | None = None
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._reader: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()

    async def call(self, *args: str | bytes | int | float) -> Any:
        """Send one command and return its reply (raised when it is an error)."""
        (reply,) = await self.pipeline([args])
        return reply

    async def pipeline(self, commands: Sequence[Sequence[str | bytes | int | float]]) -> list[Any]:
        """Send the commands in one write and return their replies, in order (the first error
        reply among them is raised)."""
        conn = self._conn
        if conn is None or not conn.is_connected:
            conn = await self._connect()
        packed = conn.pack_commands(commands)
        loop = asyncio.get_running_loop()
        replies: list[asyncio.Future[Any]] = [loop.create_future() for _ in commands]
        self._waiting.extend(replies)
        try:
            # Written before this coroutine first suspends: nobody else writes in between.
            await conn.send_packed_command(packed, check_health=False)
        except BaseException:
            await self._drop(conn)
            raise
        if len(replies) == 1:
            return [await replies[0]]
        return list(await asyncio.gather(*replies))

    async def _connect(self) -> AbstractConnection:
        async with self._connecting:
            conn = self._conn
            if conn is not None and conn.is_connected:
                return conn
            await self._drop(conn)
            fresh: AbstractConnection = self._pool.make_connection()  # type: ignore[no-untyped-call]
            try:
                await fresh.connect()  # type: ignore[no-untyped-call]
            except BaseException:
                await fresh.disconnect(nowait=True)
                raise
            self._conn = fresh
            self._reader = asyncio.create_task(self._read(fresh), name="redis replies")
            return fresh

    async def _read(self, conn: AbstractConnection) -> None:
        waiting = self._waiting
        try:
            while True:
                try:
                    reply = await conn.read_response()
                except ResponseError as exc:
                    reply = exc
                if not waiting:
                    raise RedisConnectionError("Redis sent a reply nobody asked for")
                future = waiting.popleft()
                if future.done():
                    continue  # its caller gave up waiting
                if isinstance(reply, ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except asyncio.CancelledError:
            self._fail(RedisConnectionError("the connection to Redis was closed"))
            raise
        except Exception as exc:
            broken = exc if isinstance(exc, RedisConnectionError) else RedisConnectionError(exc)
            self._fail(broken)
            if self._conn is conn:
                self._conn = None
            await conn.disconnect(nowait=True)

    def _fail(self, exc: Exception) -> None:
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(exc)

    async def _drop(self, conn: AbstractConnection | None) -> None:
        if conn is None:
            return
        if self._conn is not conn:  # an old one, already failed by its reader
            await conn.disconnect(nowait=True)
            return
        self._conn = None
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        self._fail(RedisConnectionError("the connection to Redis was dropped"))
        await conn.disconnect(nowait=True)

    async def reset(self) -> None:
        """Drop the connection (waiting calls fail; the next call connects again): a caller
        that gave up waiting does so, as a connection silently cut (no reset, no close) would
        otherwise stay in use until TCP gives up on it."""
        await self._drop(self._conn)

    async def close(self) -> None:
        """Close the connection (waiting calls fail)."""
        await self._drop(self._conn)
        await self._pool.disconnect()
