"""What ``HubClient`` hands its user: the connection ``State``, the reconnect ``Backoff``, and the
``EventStream`` of items."""

from __future__ import annotations

import asyncio
import enum
import random

from attrs import frozen

from client.frames import Item

__all__ = ["Backoff", "EventStream", "State"]


class State(enum.Enum):
    """The client's connection state."""

    CONNECTING = "connecting"  # opening the first connection
    CONNECTED = "connected"  # requests go out at once
    RECONNECTING = "reconnecting"  # the connection dropped; requests wait for the next one
    CLOSED = "closed"  # closed by ``close()`` or given up; requests fail


@frozen
class Backoff:
    """Delays between reconnection attempts: doubling from ``initial`` up to ``cap``, jittered."""

    initial: float = 0.5
    cap: float = 15.0
    factor: float = 2.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The delay before attempt ``attempt`` (0-based): uniform in [top/2, top]."""
        top = min(self.cap, self.initial * self.factor ** min(attempt, 64))
        return rng.uniform(top / 2, top)


class EventStream:
    """An async iterator over the client's stream; ends when the client closes."""

    def __init__(self, queue: asyncio.Queue[Item | None]) -> None:
        self._queue = queue

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Item:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # later readers end too
            raise StopAsyncIteration
        return item
