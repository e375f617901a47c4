"""Group commit, on every backend: saves asked for together are stored together, each caller is
answered for its own save, and a save that fails fails alone."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import random
from collections.abc import Awaitable, Callable

import attrs
import pytest

from protocol.game import COMPUTER, Game
from storage.base import Storage, StorageError, StoredEvent
from storage.store import SQLStore
from tests.storage.contract import RPS3, T0, Table, against_the_computer, assert_same_game

N = 40


def store(storage: Storage) -> SQLStore:
    """The store behind ``storage``, whose counters the tests read."""
    assert isinstance(storage, SQLStore)
    return storage


async def assert_stored(storage: Storage, tables: list[Table]) -> None:
    """Each table's game and every one of its events are stored."""
    for t in tables:
        assert_same_game(await storage.game(t.game.id), t.game)
        assert [e.seq for e in await storage.events(t.game.id, 0)] == list(range(1, t.seq + 1))
        assert await storage.last_seq(t.game.id) == t.seq


async def test_saves_asked_for_at_once_are_all_stored_in_fewer_transactions(
    storage: Storage,
) -> None:
    s = store(storage)
    tables = await against_the_computer(storage, N)  # N create_game at once
    assert (s.saves, s.largest_batch > 1) == (N, True)
    for _ in range(2):
        batches, saves = s.batches, s.saves
        moves = [t.play(t.game.players[0], "Rock") for t in tables]
        await asyncio.gather(
            *(storage.save_game(t.game, m) for t, m in zip(tables, moves, strict=True))
        )
        assert s.saves - saves == N
        assert s.batches - batches < N
    await assert_stored(storage, tables)
    assert s.retried == 0


async def test_a_failing_save_in_a_batch_fails_alone_and_leaves_nothing_of_itself(
    storage: Storage,
) -> None:
    tables = await against_the_computer(storage, 10)
    bad = tables[3]
    before = await storage.game(bad.game.id)
    events_before = await storage.events(bad.game.id, 0)
    ghost, _ = Game.start(
        id="ghost", rules=RPS3, best_of=3, players=("p000", COMPUTER), now=T0,
        rng=random.Random(0), epoch="e",
    )  # fmt: skip
    saves: list[tuple[Game, list[StoredEvent]]] = []
    for t in tables:
        events = t.play(t.game.players[0], "Paper")  # resolves a round against the computer
        if t is bad:  # the first event takes a seq the topic already has
            events = [attrs.evolve(events[0], seq=1), *events[1:]]
        saves.append((t.game, events))
    saves.insert(6, (ghost, []))
    s = store(storage)
    batches = s.batches
    results = await asyncio.gather(
        *(storage.save_game(game, events) for game, events in saves), return_exceptions=True
    )
    assert s.batches - batches < len(saves)  # they were tried together
    failed = {game.id: r for (game, _), r in zip(saves, results, strict=True) if r is not None}
    assert sorted(failed) == sorted(["ghost", bad.game.id])
    assert all(isinstance(r, StorageError) for r in failed.values())
    assert "never created" in str(failed["ghost"])
    assert await storage.game("ghost") is None
    assert_same_game(await storage.game(bad.game.id), before)  # no round, no new state
    assert await storage.events(bad.game.id, 0) == events_before
    await assert_stored(storage, [t for t in tables if t is not bad])


async def test_a_create_and_a_save_of_one_game_asked_for_together_are_stored_in_order(
    storage: Storage,
) -> None:
    [table] = await against_the_computer(storage, 1)
    game, effects = Game.start(
        id="twice", rules=RPS3, best_of=3, players=("p001", COMPUTER), now=T0,
        rng=random.Random(1), epoch="e",
    )  # fmt: skip
    created = copy.deepcopy(game)
    later = Table(storage, game, random.Random(2), T0)
    first = later.events(effects)
    moves = later.play("p001", "Rock")
    await asyncio.gather(
        storage.create_game(created, first),
        storage.save_game(later.game, moves),
        storage.save_game(table.game, table.play("p000", "Rock")),
    )
    assert_same_game(await storage.game("twice"), later.game)
    await assert_stored(storage, [table, later])


async def test_close_with_saves_asked_for_commits_them_and_then_refuses_more(
    storage: Storage, reopen: Callable[[], Awaitable[Storage]]
) -> None:
    tables = await against_the_computer(storage, N)
    moves = [t.play(t.game.players[0], "Scissors") for t in tables]
    saves = [
        asyncio.create_task(storage.save_game(t.game, m))
        for t, m in zip(tables, moves, strict=True)
    ]
    await asyncio.sleep(0)  # every save has been asked for
    async with asyncio.timeout(60):  # a guard: close must return
        await storage.close()
        assert await asyncio.gather(*saves) == [None] * N
    with pytest.raises(StorageError):
        await storage.save_game(tables[0].game, [])
    again = await reopen()
    try:
        await assert_stored(again, tables)
    finally:
        await again.close()


async def test_cancelled_callers_of_a_batch_leave_each_save_whole_and_the_rest_stored(
    storage: Storage,
) -> None:
    tables = await against_the_computer(storage, N)
    before = {t.game.id: await storage.game(t.game.id) for t in tables}
    moves = [t.play(t.game.players[0], "Rock") for t in tables]
    saves = [
        asyncio.create_task(storage.save_game(t.game, m))
        for t, m in zip(tables, moves, strict=True)
    ]
    cancelled = set(range(0, N, 7))
    for step in range(4):  # some before the writer takes them, some after
        await asyncio.sleep(0)
        for i in cancelled:
            if i % 4 == step:
                saves[i].cancel()
    for i, save in enumerate(saves):
        if i in cancelled:
            with contextlib.suppress(asyncio.CancelledError):
                await save
        else:
            await save
    for i, t in enumerate(tables):
        loaded = await storage.game(t.game.id)
        if i not in cancelled or loaded != before[t.game.id]:
            assert_same_game(loaded, t.game)
            assert await storage.last_seq(t.game.id) == t.seq
        else:
            assert await storage.last_seq(t.game.id) == t.seq - len(moves[i])
    await assert_stored(storage, [t for i, t in enumerate(tables) if i not in cancelled])
    await storage.create_player("late", "h-late", T0)
    assert await storage.player("LATE") is not None
