"""The hub's listener: a connection cap, a deadline for request headers, and a quiet log.

Theory of operation. ``bind`` takes the listening sockets before anything else starts, so a busy
port fails before the application opens storage. ``Listener`` is the protocol factory that
``loop.create_server`` calls once per accepted socket. Below the cap it returns a ``Guard``
around aiohttp's own ``RequestHandler`` (made by the runner's ``web.Server``): the guard counts
the connection until it is lost and closes it when the first request's headers have not arrived
within ``header_timeout`` (the listener learns of an arrival because it wraps the server's request
handler, which aiohttp calls once a request's headers are parsed). Later requests on a keep-alive
connection are bounded by aiohttp's ``keepalive_timeout``, which closes a connection that has not
completed a request that long after its last answer. At the cap the factory returns a
``Refusal``: it answers 503 ``unavailable`` with ``Connection: close``, reads and drops what
the peer sends (closing with unread data would reset the connection, and the 503 could be lost),
and closes once the peer has read it, or after ``LINGER`` seconds.

The cap counts open file descriptors as well: ``fit_open_files`` raises the process's soft
RLIMIT_NOFILE to hold the cap plus ``RESERVE`` (storage, logs, refusals in flight), up to the hard
limit; when that is not enough the cap is lowered and one line says so. Refusals, failed accepts
and timed-out headers are logged by ``Quiet``: one line per interval at most, with a count.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import sys
import time
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from hub import __version__
from hub.config import Config
from protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

RESERVE = 128  # descriptors kept for everything but client connections
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


class HttpLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server log: a request its parser refused is one debug line, no traceback."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        """Log an error with its traceback, except a client's malformed request."""
        if isinstance(exc_info, HttpProcessingError):
            # aiohttp has answered it (4xx) and the access log has its line: no traceback.
            self.debug("refused a malformed request: %.200s", exc_info.message)
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)


def fit_open_files(connections: int) -> int:
    """Raise the open-files limit to hold ``connections``; the cap that fits (logged if lower)."""
    try:
        import resource
    except ImportError:  # not on Unix: nothing to raise
        return connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = connections + RESERVE
    if soft == resource.RLIM_INFINITY or soft >= need:
        return connections
    target = need if hard == resource.RLIM_INFINITY else min(need, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    if target >= need:
        return connections
    cap = max(1, target - RESERVE)
    log.warning(
        "the open-files limit is %d (hard limit %s): serving at most %d connections, not %d;"
        " raise it (ulimit -n) to serve more",
        target,
        "unlimited" if hard == resource.RLIM_INFINITY else hard,
        cap,
        connections,
    )
    return cap


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for ``host`` (every address it names) and ``port``; ``OSError`` if not."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    socks: list[socket.socket] = []
    seen: set[tuple[int, Any]] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(socks) > 1:  # every address on the port the first one got
                address = (address[0], socks[0].getsockname()[1], *address[2:])
            sock.bind(address)
            sock.listen(socket.SOMAXCONN)
            sock.setblocking(False)
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks


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
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
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


async def run(config: Config) -> int:
    """Serve until SIGINT, or SIGTERM and the drain; 2 when the port or database cannot be had."""
    try:
        socks = bind(config.host, config.port)
    except OSError as exc:
        print(
            f"rps-hub: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    try:
        return await _serve(config, socks)
    finally:
        for sock in socks:
            sock.close()


async def _serve(config: Config, socks: list[socket.socket]) -> int:
    from hub import keys
    from hub.app import create_app

    runner = web.AppRunner(
        create_app(config),
        handle_signals=False,
        keepalive_timeout=config.keepalive_timeout,
        shutdown_timeout=config.close_timeout,
        logger=HttpLog(logging.getLogger("aiohttp.server")),
    )
    try:
        await runner.setup()
    except ProtocolError as exc:
        # The storage's message names the database (any password masked) and what to do.
        print(f"rps-hub: {exc.message}", file=sys.stderr)
        await runner.cleanup()
        return 2
    assert runner.server is not None
    cap = fit_open_files(config.max_connections)
    listener = Listener(runner.server, cap=cap, header_timeout=config.header_timeout)
    stopping = asyncio.Event()  # the first signal
    hurry = asyncio.Event()  # SIGINT, or a second SIGTERM: no (more) drain

    def on_term() -> None:
        if stopping.is_set():
            hurry.set()
        stopping.set()

    def on_int() -> None:
        hurry.set()
        stopping.set()

    loop = asyncio.get_running_loop()
    # Before the line below: whoever reads it may send SIGTERM at once.
    for sig, handler in ((signal.SIGTERM, on_term), (signal.SIGINT, on_int)):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, handler)
    await listener.start(socks)
    port = socks[0].getsockname()[1]  # the real port for --port 0
    print(f"rps-hub {__version__} serving on http://{config.host}:{port}/", flush=True)
    await stopping.wait()
    hub = runner.app[keys.HUB]
    hub.draining = True
    if config.drain > 0 and not hurry.is_set():
        log.info(
            "draining for %gs: /healthz answers 503, all else is served; SIGTERM again ends it",
            config.drain,
        )
        try:
            async with asyncio.timeout(config.drain):
                await hurry.wait()
        except TimeoutError:
            pass
        else:
            log.info("a second signal ended the drain early")
    log.info("shutting down")
    # From here new WebSockets are refused; open ones are closed with 1001 by the app.
    hub.closing = True
    listener.close()
    await runner.cleanup()
    return 0
