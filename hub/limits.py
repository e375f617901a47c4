"""The bookkeeping of the limits: per client address, and per WebSocket.

``AddressLimits`` holds, per client address (``hub.addresses``), a token bucket for REST
requests, the registrations within the last hour and the open WebSockets.  It forgets an address
as soon as its state is the same as a fresh one's (a full bucket, no registration within the
window, no open WebSocket), and holds at most ``max_addresses`` of each kind, so a flood of
distinct addresses cannot grow memory without bound.  ``RateLimiter`` is one WebSocket's budget
of messages.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Iterable

from hub.addresses import Network

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
