"""The storage contract, each game topic's seqs rising by exactly 1, on every backend: a save
whose events would leave a gap or a duplicate is refused whole, wherever the gap is."""

from __future__ import annotations

import random

import attrs
import pytest

from protocol.game import COMPUTER, Game
from storage.base import Storage, StorageError
from tests.storage.contract import RPS3, T0, Table, register


async def test_a_gap_inside_a_saves_events_is_refused_and_nothing_is_stored(
    storage: Storage,
) -> None:
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER))
    _, effects = table.game.move("Alice", "Rock", None, now=T0 + 1, rng=table.rng)
    events = table.events(effects)  # seqs 2, 3, 4 after round_open's 1
    gapped = [events[0], *(attrs.evolve(e, seq=e.seq + 1) for e in events[1:])]
    with pytest.raises(StorageError):
        await storage.save_game(table.game, gapped)
    assert await storage.last_seq("g1") == 1
    assert [e.seq for e in await storage.events("g1", 0)] == [1]


async def test_a_new_games_events_must_start_at_seq_1(storage: Storage) -> None:
    await register(storage, "Alice")
    game, effects = Game.start(
        id="g1", rules=RPS3, best_of=3, players=("Alice", COMPUTER), now=T0,
        rng=random.Random(0), epoch="e",
    )  # fmt: skip
    table = Table(storage, game, random.Random(0), T0, seq=1)  # numbers its events from 2
    with pytest.raises(StorageError):
        await storage.create_game(game, table.events(effects))
    assert await storage.game("g1") is None


async def test_an_event_whose_name_has_a_comma_is_refused_and_nothing_is_stored(
    storage: Storage,
) -> None:
    """A stored row joins the names of a change's events with commas (``storage.sql``): a name
    holding one could not be read back, so the save is refused whole."""
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER))
    events = table.play("Alice", "Rock")
    bad = [events[0], attrs.evolve(events[1], event="round,again"), *events[2:]]
    with pytest.raises(StorageError, match="comma"):
        await storage.save_game(table.game, bad)
    assert await storage.last_seq("g1") == 1
    assert [e.event for e in await storage.events("g1", 0)] == ["round_open"]
