"""Prometheus metrics, one registry per app so several hubs can live in one process (tests)."""

from __future__ import annotations

from collections.abc import Iterator

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
        self.requests = Counter(
            "rps_hub_requests", "Requests handled", ["transport", "op"], registry=r
        )
        # Resolved once: looking a child up by its labels on every request costs a lock and a hash.
        self.ws_requests = {op: self.requests.labels("ws", op) for op in OPS}
        self.errors = Counter("rps_hub_errors", "Error replies by code", ["code"], registry=r)
        self.games_started = Counter(
            "rps_hub_games_started", "Games started", ["opponent"], registry=r
        )
        self.games_finished = Counter(
            "rps_hub_games_finished", "Games finished, by reason", ["reason"], registry=r
        )
        self.games_live = Gauge("rps_hub_games_live", "Games being played now", registry=r)
        self.moves = Counter("rps_hub_moves", "Moves taken", ["transport"], registry=r)
        self.moves_by = {t: self.moves.labels(t) for t in TRANSPORTS}
        self.connections = Gauge(
            "rps_hub_websocket_connections", "Open WebSocket connections", registry=r
        )
        self.events = Counter("rps_hub_events_published", "Events published", ["topic"], registry=r)
        self.events_by = {kind: self.events.labels(kind) for kind in TOPIC_KINDS}
        self.closed_slow = Counter(
            "rps_hub_slow_consumers_closed", "Connections closed as slow consumers", registry=r
        )

    def watch_storage(self, storage: Storage) -> None:
        """Report the storage writer's counters, read when scraped (nothing on the move path)."""
        self.registry.register(_StorageCollector(storage))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


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
