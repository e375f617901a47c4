"""The broker: how a published payload reaches every subscriber, here or in other processes.

The hub numbers and serializes each event once, then hands the payload to the broker.  The
in-process broker delivers straight to this process's subscriptions; a Redis broker would publish
the payload on a channel that every hub process delivers locally, with the same interface.
"""

from __future__ import annotations

from typing import Protocol

from hub.fanout import Subscriptions


class Broker(Protocol):
    """Carries payloads to the subscribers of a topic."""

    def publish(self, topic: str, payload: bytes) -> None:
        """Deliver ``payload`` to every subscriber of ``topic``, in publish order."""

    async def close(self) -> None:
        """Release the broker's resources."""


class LocalBroker:
    """The in-process broker: one hub process, delivery is a loop over local subscribers."""

    def __init__(self, subscriptions: Subscriptions) -> None:
        self._subscriptions = subscriptions

    def publish(self, topic: str, payload: bytes) -> None:
        """Deliver ``payload`` to this process's subscribers of ``topic``."""
        self._subscriptions.deliver(topic, payload)

    async def close(self) -> None:
        """Nothing to release."""
