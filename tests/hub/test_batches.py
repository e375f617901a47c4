"""``hub.batches.Batches``: calls that arrive while a batch is handled go together in the next."""

from __future__ import annotations

import asyncio

import pytest

from hub.batches import Batches


class Doubler:
    """Doubles each item; each batch waits for ``gate`` and is remembered."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.fail_on: set[int] = set()  # a batch with one of them raises ValueError

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        await self.gate.wait()
        if self.fail_on.intersection(items):
            raise ValueError("no")
        return [2 * i for i in items]


async def test_calls_that_arrive_during_a_batch_go_together_in_the_next_in_order() -> None:
    handle = Doubler()
    batches = Batches(handle, limit=3)
    first = asyncio.ensure_future(batches(1))
    await asyncio.sleep(0.01)  # its batch is being handled
    later = [asyncio.ensure_future(batches(i)) for i in range(2, 7)]
    await asyncio.sleep(0.01)
    assert handle.batches == [[1]]
    handle.gate.set()
    assert await asyncio.gather(first, *later) == [2, 4, 6, 8, 10, 12]
    assert handle.batches == [[1], [2, 3, 4], [5, 6]]  # at most ``limit`` a batch
    assert await batches(7) == 14  # a new batch once none is under way


async def test_a_failing_batch_fails_its_calls_only_and_a_cancelled_call_is_skipped() -> None:
    handle = Doubler()
    batches = Batches(handle, limit=10)
    handle.fail_on = {1}
    first = asyncio.ensure_future(batches(1))
    await asyncio.sleep(0.01)
    gave_up, second = asyncio.ensure_future(batches(2)), asyncio.ensure_future(batches(3))
    await asyncio.sleep(0.01)
    gave_up.cancel()
    handle.gate.set()
    with pytest.raises(ValueError, match="no"):
        await first
    assert await second == 6 and gave_up.cancelled()


async def test_when_the_batches_task_is_cancelled_every_waiting_call_is_cancelled() -> None:
    handle = Doubler()
    batches = Batches(handle, limit=10)
    calls = [asyncio.ensure_future(batches(i)) for i in range(3)]
    await asyncio.sleep(0.01)
    task = batches._task
    assert task is not None
    task.cancel()
    done = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(d, asyncio.CancelledError) for d in done)
    assert batches._task is None
