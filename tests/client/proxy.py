"""A TCP proxy that tests can cut: every link drops at once, and new ones can be refused.

It can also lose one WebSocket frame on its way from the hub (``drop_once``), the way a buggy
middlebox or hub might: the client must notice the hole and recover what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib


class Proxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every link."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.blocked = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.accepted = 0
        self._drop: bytes | None = None
        self.dropped = 0

    def drop_once(self, marker: bytes) -> None:
        """Lose the next frame from the hub whose payload contains ``marker``."""
        self._drop = marker

    @property
    def url(self) -> str:
        """The proxy's address as the client takes it."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on an ephemeral port."""
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.blocked:
            writer.transport.abort()
            return
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.update((writer, up_writer))
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._downstream(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for w in (writer, up_writer):
            w.transport.abort()
            self._writers.discard(w)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()

    async def _downstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The hub's side: HTTP as it is; after a 101, frame by frame (unmasked, RFC 6455)."""
        with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(head)
            if not head.startswith(b"HTTP/1.1 101"):
                await self._pipe(reader, writer)  # plain HTTP (REST): passed on as it is
                return
            while True:
                head = await reader.readexactly(2)
                size = head[1] & 0x7F
                extra = b""
                if size == 126:
                    extra = await reader.readexactly(2)
                    size = int.from_bytes(extra)
                elif size == 127:
                    extra = await reader.readexactly(8)
                    size = int.from_bytes(extra)
                payload = await reader.readexactly(size)
                if self._drop is not None and self._drop in payload:
                    self._drop = None
                    self.dropped += 1
                    continue
                writer.write(head + extra + payload)
                await writer.drain()

    def cut(self, *, block: bool) -> None:
        """Drop every link now; with ``block`` refuse new ones until ``unblock()``."""
        self.blocked = block
        for writer in list(self._writers):
            writer.transport.abort()

    def unblock(self) -> None:
        """Let connections through again."""
        self.blocked = False

    async def close(self) -> None:
        """Stop listening and drop every link."""
        self.cut(block=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
