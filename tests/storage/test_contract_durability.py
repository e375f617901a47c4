"""The storage contract, durability (closing, opening again, cancelling), on every backend."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest

from protocol.game import COMPUTER
from storage.base import (
    NameTaken,
    Storage,
    StorageError,
)
from tests.storage.contract import T0, Table, assert_same_game, register

# -- durability --------------------------------------------------------------------------------


async def test_data_survives_closing_and_opening_again(
    storage: Storage, reopen: Callable[[], Awaitable[Storage]]
) -> None:
    alice = await storage.create_player("Alice", "h1", T0)
    table = await Table.start(storage, ("Alice", COMPUTER), round_seconds=30)
    await table.win()
    events = await storage.events("g1", 0)
    await storage.close()
    reopened = await reopen()
    try:
        assert await reopened.player("alice") == alice
        assert await reopened.player_by_token("h1") == alice
        assert_same_game(await reopened.game("g1"), table.game)
        assert await reopened.events("g1", 0) == events
        assert await reopened.last_seq("g1") == table.seq
        assert [g.id for g in await reopened.live_games()] == ["g1"]
        with pytest.raises(NameTaken):
            await reopened.create_player("computer", "h2", T0)
    finally:
        await reopened.close()


async def test_closing_twice_is_harmless(storage: Storage) -> None:
    await storage.close()
    await storage.close()


async def test_a_closed_storage_refuses_work_with_a_storage_error(storage: Storage) -> None:
    await storage.close()
    with pytest.raises(StorageError):
        await storage.player("Alice")


@pytest.mark.parametrize("yields", range(12))
async def test_a_cancelled_save_is_all_or_nothing_and_storage_stays_usable(
    storage: Storage, yields: int
) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"), best_of=1)
    before = await storage.game("g1")
    assert before is not None
    table.game.move("Alice", "Rock", None, now=T0, rng=table.rng)
    _, effects = table.game.move("bob", "Paper", None, now=T0, rng=table.rng)
    task = asyncio.create_task(storage.save_game(table.game, table.events(effects)))
    # Cancel at a different await inside the unit of work in each run.
    for _ in range(yields):
        await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    loaded = await storage.game("g1")
    assert loaded in (before, table.game)
    assert await storage.last_seq("g1") == (1 if loaded == before else table.seq)
    await storage.create_player("carol", "h-carol", T0)
    assert await storage.player("CAROL") is not None
