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

The client address is the peer's, or, when the peer is a trusted proxy, the last hop that proxy
added to ``X-Forwarded-For``; IPv6 clients count by their /64, which one host commonly owns
whole.  Loopback clients that are not trusted proxies are exempt.  ``AddressLimits`` forgets an
address as soon as its state is the same as a fresh one's (a full bucket, no registration within
the window, no open WebSocket), and holds at most ``max_addresses`` of each kind, so a flood of
distinct addresses cannot grow memory without bound.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Iterable

from aiohttp import hdrs, web

from hub import keys
from hub.config import Config
from hub.rest import Handler, error_response
from protocol.errors import ErrorCode

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

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
WINDOW = 3600.0  # the registration allowance is per hour
MAX_ADDRESSES = 100_000


class AddressLimits:
    """Token buckets, registration windows and open WebSockets per client address.

    Times are passed in (``now``, in seconds) so the bookkeeping is plain and testable.  A limit
    of 0 disables it.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        registrations: int,
        sockets: int,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.registrations = registrations
        self.sockets = sockets
        self.max_addresses = max_addresses
        # Least recently used first, so idle entries are found at the front.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._registered: OrderedDict[str, deque[float]] = OrderedDict()
        self._open: dict[str, int] = {}

    @staticmethod
    def networks(entries: Iterable[str]) -> tuple[Network, ...]:
        """Parse ``--trusted-proxy`` entries: addresses or CIDR networks."""
        return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries)

    @property
    def tracked(self) -> int:
        """How many per-address entries are held (for tests and metrics)."""
        return len(self._buckets) + len(self._registered) + len(self._open)

    def take(self, address: str, now: float) -> float:
        """Spend one REST token: 0 when allowed, else the seconds until one is back."""
        if self.rate <= 0 or self.burst <= 0:
            return 0.0
        full_after = self.burst / self.rate
        while self._buckets:
            oldest = next(iter(self._buckets))
            if now - self._buckets[oldest][1] < full_after:
                break
            del self._buckets[oldest]
        tokens, stamp = self._buckets.pop(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[address] = (tokens, now)
        if len(self._buckets) > self.max_addresses:
            self._buckets.popitem(last=False)
        return wait

    def reserve(self, address: str, now: float) -> float:
        """Reserve one registration: 0 when allowed, else the seconds until one is free."""
        if self.registrations <= 0:
            return 0.0
        while self._registered:
            oldest, stamps = next(iter(self._registered.items()))
            if stamps and now - stamps[-1] < WINDOW:
                break
            del self._registered[oldest]
        stamps = self._registered.pop(address, deque())
        while stamps and now - stamps[0] >= WINDOW:
            stamps.popleft()
        wait = 0.0
        if len(stamps) >= self.registrations:
            wait = stamps[0] + WINDOW - now
        else:
            stamps.append(now)
        if stamps:
            self._registered[address] = stamps
        if len(self._registered) > self.max_addresses:
            self._registered.popitem(last=False)
        return wait

    def release(self, address: str, now: float) -> None:
        """Give back a reservation whose registration failed."""
        stamps = self._registered.get(address)
        if stamps is not None and now in stamps:
            stamps.remove(now)
            if not stamps:
                del self._registered[address]

    def open_socket(self, address: str) -> bool:
        """Count one more open WebSocket, unless the address has its fill."""
        count = self._open.get(address, 0)
        if 0 < self.sockets <= count:
            return False
        self._open[address] = count + 1
        return True

    def close_socket(self, address: str) -> None:
        """Count one WebSocket fewer."""
        count = self._open.pop(address, 0) - 1
        if count > 0:
            self._open[address] = count


class RateLimiter:
    """A token bucket (``rate``/s, ``burst``) that also counts refusals in a sliding window."""

    __slots__ = ("_refusals", "_stamp", "_tokens", "burst", "rate", "window")

    def __init__(self, rate: float, burst: int, window: float) -> None:
        self.rate, self.burst, self.window = rate, burst, window
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._refusals: list[float] = []

    def allow(self) -> bool:
        """Take a token; False when the bucket is empty."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self._refusals = [t for t in self._refusals if now - t < self.window]
        self._refusals.append(now)
        return False

    @property
    def advice(self) -> str:
        """What a refused client is told."""
        return f"slow down: at most {self.rate:g} requests/s, bursts of {self.burst}"

    @property
    def refusals(self) -> int:
        """Refusals within the window."""
        return len(self._refusals)


def _ip(text: str) -> Address | None:
    """An address as a peer or a proxy writes it (IPv6 may be bracketed, IPv4 may carry a port)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def client_address(
    peer: str | None, forwarded: Iterable[str], trusted: tuple[Network, ...]
) -> str | None:
    """The key a request counts under; ``None`` for an exempt loopback client.

    ``forwarded`` holds the ``X-Forwarded-For`` headers; only a trusted proxy's are read, and only
    their last hop, the one that proxy added: whatever a client wrote before it is not evidence.
    """
    ip = _ip(peer or "")
    if ip is None:
        return None  # a Unix socket: local by construction
    if any(ip in net for net in trusted):
        hops = [hop for header in forwarded for hop in header.split(",") if hop.strip()]
        if not hops:
            return _key(ip)
        last = _ip(hops[-1])
        if last is None:
            return hops[-1].strip().lower()[:64]
        ip = last
        if any(ip in net for net in trusted):
            return _key(ip)
    return None if ip.is_loopback else _key(ip)


def _key(ip: Address) -> str:
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def loopback_bound(host: str) -> bool:
    """Whether ``--host`` is a loopback address or name, which makes the Host check apply."""
    return _loopback_name(host.strip().strip("[]").lower())


def _loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a ``Host`` header names a loopback host or one of ``allowed`` (port ignored).

    A request without ``Host`` is served: every browser sends one, so it is no rebinding.
    """
    if header is None:
        return True
    host = header.strip().lower()
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else ""
    else:
        name = host.rpartition(":")[0] if host.count(":") == 1 else host
    name = name.rstrip(".")
    return bool(name) and (_loopback_name(name) or name in allowed or host in allowed)


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


_SOCKET = web.RequestKey("socket_address", str)


def open_socket(request: web.Request) -> web.Response | None:
    """Count a WebSocket of the request's client: a 429 refusal when it has its fill."""
    state = request.app[GUARD]
    address = client_address(
        request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, ()), state.trusted
    )
    if address is None:
        return None
    limits = state.limits
    if not limits.open_socket(address):
        return refuse(
            request,
            ErrorCode.RATE_LIMITED,
            f"at most {limits.sockets} open WebSockets per address; close one first",
        )
    request[_SOCKET] = address
    return None


def close_socket(request: web.Request) -> None:
    """The WebSocket that ``open_socket`` counted has ended."""
    address = request.get(_SOCKET)
    if address is not None:
        request.app[GUARD].limits.close_socket(address)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every answer, static files and refusals included.

    Not a WebSocket's 101: it carries no document to protect, and the headers would stay with
    the connection for its whole life (~1.2 KB each).
    """
    if isinstance(response, web.WebSocketResponse):
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
