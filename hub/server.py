"""Serving: take the port, fit the open-files limit, run the application, drain and stop.

``bind`` takes the listening sockets before anything else starts, so a busy port fails before
the application opens storage. The connection cap (``hub.listener``) counts open file
descriptors as well: ``fit_open_files`` raises the process's soft RLIMIT_NOFILE to hold the cap
plus ``RESERVE`` (storage, logs, refusals in flight), up to the hard limit; when that is not
enough the cap is lowered and one line says so. The first SIGTERM starts the drain (``/healthz``
answers 503, all else is served), SIGINT or a second SIGTERM ends it; then the hub shuts down.
The serving process collects cyclic garbage less often than CPython's default (``tune_gc``), and
hands the GIL to a thread waiting for it sooner (``tune_switching``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from hub import __version__
from hub.config import Config
from hub.listener import Listener
from hub.loops import loop_name
from protocol.errors import ProtocolError

log = logging.getLogger(__name__)

RESERVE = 128  # descriptors kept for everything but client connections
GC_THRESHOLD = 100_000  # net new containers between young collections (CPython: 700)
SWITCH_INTERVAL = 0.0005  # seconds a busy thread keeps the GIL from one that waits (CPython: 0.005)


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


def tune_gc() -> None:
    """Collect the youngest generation only after ``GC_THRESHOLD`` more containers were
    allocated than freed (CPython counts it so).  The hub's objects die by reference count; what
    the collector finds is the moves in flight: at 1,000 players ~7,500 containers (each move's
    coroutines, round, events) wait for their batch's commit at any moment.  CPython's 700 made
    the collector a tenth of the CPU there; 10,000 still ran a young collection about twice a
    second during play, each traversing those objects for nothing (~10 ms each) and promoting
    them, and the older generations' collections followed (up to 52 ms, and 106 ms for a full
    one).  At 100,000 none runs in 20 s of play at 1,000 players (the imports' and the logins'
    ones only), at most that many objects of cyclic garbage wait for one, and moves/s rose ~10%
    (interleaved pairs in benchmarks/README.md)."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, older, oldest)


def tune_switching() -> None:
    """Ask the event loop's thread to give up the GIL after ``SWITCH_INTERVAL`` when another
    thread waits for it, instead of CPython's 5 ms: SQLite's writer thread waits for the GIL
    while the loop runs Python, and at 1,000 players those waits held each batch up (two A/B
    runs in benchmarks/README.md, 1,000 players: p50 move -> ``round`` -13 to -38%, p99 -7 to
    -34%, moves/s -3 to +17%, CPU a move within noise; 100 players: moves/s +0 to +11%)."""
    sys.setswitchinterval(SWITCH_INTERVAL)


async def run(config: Config) -> int:
    """Serve until SIGINT, or SIGTERM and the drain; 2 when the port or database cannot be had."""
    tune_gc()
    tune_switching()
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
    log.info("event loop: %s", loop_name(loop))
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
