"""Calls that wait for one another: those that arrive while a batch is being handled go together
in the next, as the writer's saves do (``storage.writer``).

Used where each call on its own would wait for something shared that is slow under load: a read
for each authentication (``hub.identity``), the cluster's lobby lock for each connection that
opens or closes (``hub.cluster.presence``).  A thousand calls at once are then a few batches.  A
call never takes the outcome of a batch that began before it arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Batches"]

T = TypeVar("T")
R = TypeVar("R")


class Batches(Generic[T, R]):
    """``await batches(item)``: ``handle`` of a batch of at most ``limit`` items, in the order
    they came, gives each item's outcome (a list as long as the batch); when ``handle`` raises
    an ``Exception``, every call of that batch raises it."""

    def __init__(self, handle: Callable[[list[T]], Awaitable[list[R]]], limit: int) -> None:
        self._handle = handle
        self._limit = limit
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        outcome: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, outcome))
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        return await outcome

    async def _run(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
                try:
                    outcomes = await self._handle([item for item, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():  # its caller may have given up (cancelled)
                            future.set_exception(exc)
                    continue
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():
                        future.set_result(outcome)
                batch = []
        except BaseException:  # cancelled: the loop or the hub is stopping
            for _, future in [*batch, *self._waiting]:
                future.cancel()
            self._waiting = []
            raise
        finally:
            self._task = None
