"""Prometheus metrics, one registry per app so several hubs can live in one process (tests).

What every move and event counts (requests, moves, published events) is a plain dict entry
incremented in place, read into metric families only when ``/metrics`` is scraped: a
``prometheus_client`` counter's ``inc`` is four Python calls and a lock, several per move.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from protocol.messages import OPS
from storage.base import Storage

TRANSPORTS = ("ws", "rest", "legacy")
TOPIC_KINDS = ("lobby", "game", "player")


class Metrics:
    """The hub's counters and gauges."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # Requests by (transport, op): ``ws`` and its wire op, or ``rest`` and ``METHOD /route``.
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter(
            {("ws", op): 0 for op in OPS}
        )
        self.moves: collections.Counter[str] = collections.Counter(dict.fromkeys(TRANSPORTS, 0))
        self.events: collections.Counter[str] = collections.Counter(dict.fromkeys(TOPIC_KINDS, 0))
        r.register(_TallyCollector(self))
        self.errors = Counter("rps_hub_errors", "Error replies by code", ["code"], registry=r)
        self.games_started = Counter(
            "rps_hub_games_started", "Games started", ["opponent"], registry=r
        )
        self.games_finished = Counter(
            "rps_hub_games_finished", "Games finished, by reason", ["reason"], registry=r
        )
        self.games_live = Gauge("rps_hub_games_live", "Games being played now", registry=r)
        self.connections = Gauge(
            "rps_hub_websocket_connections", "Open WebSocket connections", registry=r
        )
        self.closed_slow = Counter(
            "rps_hub_slow_consumers_closed", "Connections closed as slow consumers", registry=r
        )

    def watch_subscriptions(self, count: Callable[[], int]) -> None:
        """Report how many subscriptions this process's connections hold (``count``, called
        when scraped)."""
        gauge = Gauge(
            "rps_hub_subscriptions",
            "Topic subscriptions held by connections",
            registry=self.registry,
        )
        gauge.set_function(count)

    def watch_storage(self, storage: Storage) -> None:
        """Report the storage writer's counters, read when scraped (nothing on the move path)."""
        self.registry.register(_StorageCollector(storage))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class _TallyCollector(Collector):
    """The per-move counts of ``Metrics``, as metric families."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """The counts now."""
        m = self.metrics
        requests = CounterMetricFamily(
            "rps_hub_requests", "Requests handled", labels=["transport", "op"]
        )
        for (transport, op), n in sorted(m.requests.items()):
            requests.add_metric([transport, op], n)
        yield requests
        moves = CounterMetricFamily("rps_hub_moves", "Moves taken", labels=["transport"])
        for transport, n in sorted(m.moves.items()):
            moves.add_metric([transport], n)
        yield moves
        events = CounterMetricFamily(
            "rps_hub_events_published", "Events published", labels=["topic"]
        )
        for kind, n in sorted(m.events.items()):
            events.add_metric([kind], n)
        yield events


class _StorageCollector(Collector):
    """The group-commit writer's counters, as the storage keeps them."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def collect(self) -> Iterator[Metric]:
        """The counters' values now."""
        s = self.storage
        yield CounterMetricFamily(
            "rps_hub_storage_batches", "Write transactions of batched saves", value=s.batches
        )
        yield CounterMetricFamily(
            "rps_hub_storage_saves", "Game saves stored (or failed) in batches", value=s.saves
        )
        yield CounterMetricFamily(
            "rps_hub_storage_retried",
            "Saves stored again alone because their batch failed",
            value=s.retried,
        )
        yield GaugeMetricFamily(
            "rps_hub_storage_largest_batch", "The most saves one batch held", value=s.largest_batch
        )
