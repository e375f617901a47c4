"""What every request passes before a handler: the Host check, per-address limits, safe headers.

Theory of operation.  ``guard`` is the outermost middleware, so the WebSocket upgrade, the page,
static files and unknown routes pass it too.  It refuses, in this order:

1. on a hub listening on a loopback address, a ``Host`` that is not a loopback name or address
   or named by ``--allow-host`` (403 ``forbidden``): a page on another site that rebinds its own
   name to 127.0.0.1 is same-origin with the hub to the browser, but still sends its own name;
2. per client address (docs/protocol.md, Protection): an upgrade to ``/ws`` beyond the open
   WebSockets allowed (429),
   a REST request beyond the token bucket (429 with ``Retry-After``), a registration beyond the
   hourly allowance (429 with ``Retry-After``).  The page (``/``) and ``/static/`` use no budget.

Who the client is, and which hosts pass, is decided in ``hub.addresses``; the counting per
address is ``hub.limits.AddressLimits``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable

from aiohttp import hdrs, web

from hub import keys
from hub.addresses import client_address, host_allowed, loopback_bound
from hub.config import Config
from hub.limits import AddressLimits
from hub.rest import Handler, error_response
from protocol.errors import ErrorCode

# The page loads only its own script, style and WebSocket; nothing may frame it.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
REGISTRATIONS = {("POST", "/api/players"), ("PUT", "/api/game/users")}


class Guard:
    """The guard's configuration and state, one per application."""

    def __init__(self, config: Config) -> None:
        self.check_host = loopback_bound(config.host)
        self.allowed_hosts = frozenset(h.strip().lower().rstrip(".") for h in config.allow_host)
        self.trusted = AddressLimits.networks(config.trusted_proxy)
        self.limits = AddressLimits(
            config.rest_rate,
            config.rest_burst,
            config.registrations_per_hour,
            config.ws_per_address,
        )


GUARD = web.AppKey("guard", Guard)


def refuse(request: web.Request, code: ErrorCode, message: str, wait: float = 0.0) -> web.Response:
    """A refusal as a JSON error, counted; ``wait`` (seconds) becomes ``Retry-After``."""
    request.app[keys.METRICS].errors.labels(code).inc()
    response = error_response(code, message)
    if wait > 0:
        response.headers[hdrs.RETRY_AFTER] = str(max(1, math.ceil(wait)))
    return response


def guard(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Refuse foreign Hosts on a loopback hub and clients over their limits (docs/protocol.md).

    Not a coroutine itself: it returns the handler's, so no frame of its own stays alive while a
    handler runs (a WebSocket's runs for the connection's whole life).  The WebSocket handler
    counts its own connections (``open_socket``).
    """
    state = request.app[GUARD]
    host = request.headers.get(hdrs.HOST)
    if state.check_host and not host_allowed(host, state.allowed_hosts):
        name = ((host or "").rpartition(":")[0] or host or "")[:100]
        return _ready(
            refuse(
                request,
                ErrorCode.FORBIDDEN,
                f"this hub serves only loopback names; open it as localhost, or start it with "
                f"--allow-host {name}",
            )
        )
    path = request.path
    if path == "/" or path == "/ws" or path.startswith("/static/"):
        return handler(request)
    address = client_address(
        request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, ()), state.trusted
    )
    if address is None:
        return handler(request)
    limits = state.limits
    now = time.monotonic()
    wait = limits.take(address, now)
    if wait:
        return _ready(
            refuse(
                request,
                ErrorCode.RATE_LIMITED,
                f"at most {limits.rate:g} requests/s per address; retry in {math.ceil(wait)} s",
                wait,
            )
        )
    if (request.method, path) not in REGISTRATIONS:
        return handler(request)
    wait = limits.reserve(address, now)
    if wait:
        return _ready(
            refuse(
                request,
                ErrorCode.RATE_LIMITED,
                f"at most {limits.registrations} registrations per hour per address; "
                f"retry in {math.ceil(wait)} s",
                wait,
            )
        )
    return _register(request, handler, limits, address, now)


guard.__middleware_version__ = 1  # type: ignore[attr-defined]  # what @web.middleware sets


async def _ready(response: web.StreamResponse) -> web.StreamResponse:
    return response


async def _register(
    request: web.Request, handler: Handler, limits: AddressLimits, address: str, now: float
) -> web.StreamResponse:
    """Run a registration; a failed one gives its reservation back."""
    registered = False
    try:
        response = await handler(request)
        registered = response.status < 300
        return response
    finally:
        if not registered:
            limits.release(address, now)


def open_socket(request: web.Request) -> tuple[web.Response | None, str | None]:
    """Count a WebSocket of the request's client: a 429 refusal when it has its fill.

    The second item is the address counted (None when none was), for ``close_socket``: the
    caller keeps it, not the request, whose state dict would be made for it (~0.2 KB each
    connection, for its whole life).
    """
    state = request.app[GUARD]
    address = client_address(
        request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, ()), state.trusted
    )
    if address is None:
        return None, None
    limits = state.limits
    if not limits.open_socket(address):
        return (
            refuse(
                request,
                ErrorCode.RATE_LIMITED,
                f"at most {limits.sockets} open WebSockets per address; close one first",
            ),
            None,
        )
    return None, address


def close_socket(app: web.Application, address: str | None) -> None:
    """The WebSocket that ``open_socket`` counted at ``address`` has ended."""
    if address is not None:
        app[GUARD].limits.close_socket(address)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every answer, static files and refusals included.

    Not a WebSocket's 101: it carries no document to protect, and the headers would stay with
    the connection for its whole life (~1.2 KB each).
    """
    if isinstance(response, web.WebSocketResponse):
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
