"""Prometheus metrics, one registry per app so several hubs can live in one process (tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from protocol.messages import OPS

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

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
