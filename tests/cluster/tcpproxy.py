"""A pausable TCP proxy, to cut one hub node off from PostgreSQL or Redis without root.

``TcpProxy(host, port)`` listens on 127.0.0.1 at a port of its own and forwards every link to the
target byte for byte.  ``pause()`` stops forwarding both ways (what was read waits; the kernel's
buffers fill and the peers stall, as behind a dead router) and refuses new links (accepted, then
reset); ``cut()`` drops every link now; ``resume()`` lets bytes and new links through again.
A partition that stalls is ``pause()``; one that resets is ``pause()`` then ``cut()``.
``pause_on(*patterns)`` pauses at the moment a chunk on its way to the target holds one of
``patterns``, before that chunk goes on (``tripped`` is set then): a link that stalls exactly when
a peer sends a given message, such as a node's publish of one event.
"""

from __future__ import annotations

import asyncio
import contextlib

CHUNK = 65536


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; ``pause``, ``cut`` and ``resume`` it."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.accepted = 0
        """Links forwarded since the start."""
        self.refused = 0
        """Links reset on arrival while paused."""
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._trigger: tuple[bytes, ...] = ()
        self.tripped = asyncio.Event()
        """Set when ``pause_on``'s pattern was seen (and the proxy paused)."""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._links: set[asyncio.Task[None]] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def paused(self) -> bool:
        """True between ``pause()`` and ``resume()``."""
        return not self._flowing.is_set()

    @property
    def links(self) -> int:
        """Links open now (each counts once, though it holds two sockets)."""
        return len(self._writers) // 2

    async def start(self) -> TcpProxy:
        """Listen on an ephemeral port of 127.0.0.1; returns the proxy."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def pause(self) -> None:
        """Stop forwarding both ways and refuse new links, until ``resume()``."""
        self._flowing.clear()

    def pause_on(self, *patterns: bytes) -> None:
        """Pause when a chunk to the target holds one of ``patterns``, before it is forwarded;
        once."""
        self.tripped.clear()
        self._trigger = patterns

    def resume(self) -> None:
        """Forward again, and accept new links."""
        self._flowing.set()

    def cut(self) -> None:
        """Drop every link now (both sides see a reset); new links are not refused by this."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for pipe in list(self._pipes):
            pipe.cancel()

    async def close(self) -> None:
        """Stop listening, drop every link and wait until each is gone."""
        if self._server is not None:
            self._server.close()
        self.cut()
        await asyncio.gather(*self._links, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        try:
            await self._link(reader, writer)
        finally:
            self._links.discard(task)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.paused:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()  # the target is down: the client sees its link reset
            return
        self.accepted += 1
        self._writers.update((writer, up_writer))
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer, upstream=True)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for pipe in pipes:
            pipe.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        self._pipes.difference_update(pipes)
        for w in (writer, up_writer):
            w.close()  # what is buffered still goes out, unless ``cut()`` aborted it
            self._writers.discard(w)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool = False
    ) -> None:
        """Copy one direction; a chunk read while paused waits for ``resume()``."""
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                await self._flowing.wait()
                data = await reader.read(CHUNK)
                if not data:
                    return  # the link ends; its other side is closed after what it holds
                if upstream and any(p in data for p in self._trigger):
                    self._trigger = ()
                    self.pause()
                    self.tripped.set()
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
