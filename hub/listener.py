"""The hub's listener: a connection cap and a deadline for request headers, logged quietly.

Theory of operation. ``Listener`` is the protocol factory that ``loop.create_server`` calls once
per accepted socket. Below the cap it returns a ``Guard`` around aiohttp's own
``RequestHandler`` (made by the runner's ``web.Server``): the guard counts the connection until
it is lost and closes it when the first request's headers have not arrived within
``header_timeout`` (the listener learns of an arrival because it wraps the server's request
handler, which aiohttp calls once a request's headers are parsed). Later requests on a keep-alive
connection are bounded by aiohttp's ``keepalive_timeout``, which closes a connection that has not
completed a request that long after its last answer. At the cap the factory returns a
``Refusal``: it answers 503 ``unavailable`` with ``Connection: close``, reads and drops what
the peer sends (closing with unread data would reset the connection, and the 503 could be lost),
and closes once the peer has read it, or after ``LINGER`` seconds.

Refusals, failed accepts and timed-out headers are logged by ``Quiet``: one line per interval at
most, with a count.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

from aiohttp import hdrs, web

from protocol.errors import ErrorCode

log = logging.getLogger(__name__)

LINGERING = 32  # refusals that may wait at once for their peer to read the 503
LINGER = 1.0  # seconds a refusal waits for that
QUIET_INTERVAL = 60.0

_BODY = json.dumps(
    {
        "error": {
            "code": ErrorCode.UNAVAILABLE,
            "message": "the hub is at its connection limit; try again in a moment",
        }
    },
    separators=(",", ":"),
).encode()
REFUSAL = (
    f"HTTP/1.1 {ErrorCode.UNAVAILABLE.status} Service Unavailable\r\n".encode()
    + b"Content-Type: application/json\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n\r\n" + _BODY
)


class Quiet:
    """A log line at most once per ``interval`` seconds, saying how many it stands for."""

    def __init__(
        self,
        level: int,
        interval: float = QUIET_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.level = level
        self.interval = interval
        self.clock = clock
        self._next = float("-inf")
        self._unsaid = 0

    def __call__(self, message: str, *args: object) -> None:
        """Log ``message`` (%-style ``args``) unless a line went out less than an interval ago."""
        now = self.clock()
        if now < self._next:
            self._unsaid += 1
            return
        if self._unsaid:
            message += f" ({self._unsaid} more since the last such line)"
        self._unsaid = 0
        self._next = now + self.interval
        log.log(self.level, message, *args)


class Guard(asyncio.Protocol):
    """aiohttp's handler for one connection, counted, and closed if no headers come in time."""

    # One per connection, held as long as it is open: slots keep idle connections small.
    __slots__ = ("__weakref__", "early", "handler", "listener", "served", "timer", "transport")

    def __init__(self, listener: Listener, handler: web.RequestHandler) -> None:
        self.listener = listener
        self.handler = handler
        self.transport: asyncio.BaseTransport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.served = False  # a request's headers arrived and its answer is not done yet
        self.early = False  # bytes of the next request came while one was being answered

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Arm the header deadline, then hand the connection to aiohttp."""
        self.transport = transport
        self._arm()
        self.handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Pass the bytes to aiohttp; the first of a request's start its headers' deadline."""
        if self.served:
            self.early = True
        elif self.timer is None:
            self._arm()
        self.handler.data_received(data)

    def _arm(self) -> None:
        if self.listener.header_timeout > 0 and self.timer is None:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self.listener.header_timeout, self._expire)

    def eof_received(self) -> bool | None:
        """Pass the end of input to aiohttp."""
        return self.handler.eof_received()  # type: ignore[func-returns-value]

    def pause_writing(self) -> None:
        """Pass the transport's back-pressure to aiohttp."""
        self.handler.pause_writing()

    def resume_writing(self) -> None:
        """Pass the transport's back-pressure to aiohttp."""
        self.handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop counting the connection; aiohttp cleans up."""
        self.arrived()
        self.listener.forget(self)
        self.handler.connection_lost(exc)

    def arrived(self) -> None:
        """A request's headers arrived: the deadline is met."""
        self.served = True
        self.early = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    async def answer(self, pending: Awaitable[web.StreamResponse]) -> web.StreamResponse:
        """Await an HTTP request's answer; then the next request's headers have a deadline too."""
        try:
            return await pending
        finally:
            self.served = False
            if self.early:  # some of the next request is already here
                self._arm()

    def _expire(self) -> None:
        self.timer = None
        if not self.served and self.transport is not None:
            self.listener.slow(
                "closed connection(s) whose request headers took over %gs",
                self.listener.header_timeout,
            )
            self.transport.close()


class Refusal(asyncio.Protocol):
    """A connection beyond the cap: 503, then closed once the peer has read it."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Answer 503 at once, and wait a little for the peer to read it."""
        # A TCP transport; not an ``asyncio.Transport`` instance on every loop (uvloop's is not).
        self.transport = transport = cast(asyncio.Transport, transport)
        transport.write(REFUSAL)
        if len(self.listener.refusals) >= LINGERING:
            transport.close()
            return
        self.listener.refusals.add(self)
        with contextlib.suppress(OSError, RuntimeError):
            transport.write_eof()
        self.timer = asyncio.get_running_loop().call_later(LINGER, transport.abort)

    def data_received(self, data: bytes) -> None:
        """Drop the request: it is read only so that closing does not reset the connection."""

    def eof_received(self) -> bool:
        """The peer is done: close."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the refusal."""
        if self.timer is not None:
            self.timer.cancel()
        self.listener.refusals.discard(self)


class Listener:
    """The protocol factory of the hub's listening sockets (see the module's docstring)."""

    def __init__(self, server: web.Server, *, cap: int, header_timeout: float) -> None:
        self.web = server
        self.cap = cap
        self.header_timeout = header_timeout
        # Weak: a guard whose transport was never made (a failed accept) stops counting by itself.
        self.guards: MutableMapping[int, Guard] = weakref.WeakValueDictionary()
        self.refusals: weakref.WeakSet[Refusal] = weakref.WeakSet()
        self.refused = Quiet(logging.WARNING)
        self.slow = Quiet(logging.INFO)
        self.failed = Quiet(logging.WARNING)
        self._servers: list[asyncio.AbstractServer] = []
        self._previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None = None
        handle = server.request_handler

        def arrived(request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
            # Not a coroutine of its own: a WebSocket's handler runs for the connection's whole
            # life, and a frame awaiting it would be kept as long, per connection.
            guard = self.guards.get(id(request.protocol))
            if guard is None:
                return handle(request)
            guard.arrived()
            if request.headers.get(hdrs.UPGRADE):  # a WebSocket: no HTTP request follows
                return handle(request)
            return guard.answer(handle(request))

        # Before any handler exists: each RequestHandler copies it when it is made.
        server.request_handler = arrived

    @property
    def connections(self) -> int:
        """Connections open (or being opened) below the cap."""
        return len(self.guards)

    def __call__(self) -> asyncio.Protocol:
        """The protocol of a newly accepted connection."""
        if len(self.guards) >= self.cap:
            self.refused("at the connection limit of %d: answered 503", self.cap)
            return Refusal(self)
        guard = Guard(self, self.web())
        self.guards[id(guard.handler)] = guard
        return guard

    def forget(self, guard: Guard) -> None:
        """A guarded connection is gone."""
        self.guards.pop(id(guard.handler), None)

    async def start(self, socks: list[socket.socket]) -> None:
        """Serve on ``socks``; failed accepts (out of descriptors) are logged quietly."""
        loop = asyncio.get_running_loop()
        self._previous = loop.get_exception_handler()
        loop.set_exception_handler(self._loop_error)
        for sock in socks:
            self._servers.append(await loop.create_server(self, sock=sock))

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # asyncio reports every failed accept() (EMFILE) with a traceback, many times a second.
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            self.failed("cannot accept connections: %s; retrying", context.get("exception"))
        elif self._previous is not None:
            self._previous(loop, context)
        else:
            loop.default_exception_handler(context)

    def close(self) -> None:
        """Stop accepting; refusals still waiting are cut short."""
        for server in self._servers:
            server.close()
        if self._servers:
            asyncio.get_running_loop().set_exception_handler(self._previous)
        for refusal in list(self.refusals):
            if refusal.transport is not None:
                refusal.transport.abort()
