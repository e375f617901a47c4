"""A cluster node's own metrics on ``/metrics``: its Redis commands, its relay's counts, its health.

Read from the node's objects when ``/metrics`` is scraped, like the storage's (nothing is counted
twice on the hot path).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from hub.cluster.node import ClusterHub


class ClusterCollector(Collector):
    """``rps_hub_cluster_*``: what this node asked of Redis and what its relay did."""

    def __init__(self, hub: ClusterHub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        """The counts now."""
        hub = self.hub
        yield CounterMetricFamily(
            "rps_hub_cluster_redis_commands",
            "Commands (and pipelines) this node sent to Redis for the lobby, topics and liveness",
            value=hub.state.commands,
        )
        yield CounterMetricFamily(
            "rps_hub_cluster_lobby_changes",
            "Changes of the lobby this node stored under the cluster's lobby lock",
            value=hub.feed.changes,
        )
        yield CounterMetricFamily(
            "rps_hub_cluster_lobby_holds",
            "Holds of the cluster's lobby lock in which this node stored its changes (one commit"
            " each; the changes waiting on the node go together in one)",
            value=hub.feed.holds,
        )
        relay = CounterMetricFamily(
            "rps_hub_cluster_relay_messages",
            "What this node's relay did with topic events (received from Redis, delivered here,"
            " dropped as duplicates, caught up from a log, ...)",
            labels=["what"],
        )
        for what, count in sorted(hub.relay.counters.items()):
            relay.add_metric([what], count)
        yield relay
        yield GaugeMetricFamily(
            "rps_hub_cluster_relay_topics",
            "Topics this node's relay follows (those with subscribers here, and the lobby)",
            value=len(hub._epochs) + len(hub._player_streams) + 1,
        )
        yield GaugeMetricFamily(
            "rps_hub_cluster_relay_connected",
            "1 while the relay's pub/sub connection to Redis is up",
            value=int(hub.relay.healthy),
        )
