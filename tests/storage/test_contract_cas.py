"""The storage contract, saves as compare-and-set on a game's seq (several nodes on one database),
on every backend: two stores on the same data stand for two hub nodes."""

from __future__ import annotations

import asyncio
import copy
import random

import attrs
import pytest

from protocol.game import COMPUTER, Game
from protocol.ratings import NEW, Rating
from storage.base import RatingUpdate, StaleGame, Storage
from storage.store import SQLStore
from tests.storage.contract import RPS3, T0, Table, against_the_computer, assert_same_game, register

RACES = 12


def branch(table: Table, storage: Storage) -> Table:
    """A copy of ``table`` that goes on through ``storage``: what another node holds."""
    return attrs.evolve(
        table, storage=storage, game=copy.deepcopy(table.game), rng=copy.deepcopy(table.rng)
    )


async def assert_untouched(storage: Storage, game_id: str, before: Table) -> None:
    """The stored game is ``before``'s, and its topic ends at ``before``'s last event."""
    assert_same_game(await storage.game(game_id), before.game)
    assert [e.seq for e in await storage.events(game_id, 0)] == list(range(1, before.seq + 1))


async def test_a_save_over_a_seq_another_node_moved_on_is_stale_and_stores_nothing(
    storage: Storage, other: Storage
) -> None:
    await register(storage, "Alice", "bob")
    here = await Table.start(storage, ("Alice", "bob"), best_of=5)
    there = branch(here, other)
    await there.round("Rock", "Scissors")
    with pytest.raises(StaleGame) as info:
        await here.round("Paper", "Rock")
    assert info.value.code == "unavailable"
    assert (info.value.game_id, info.value.expected, info.value.stored) == ("g1", 1, there.seq)
    assert str(info.value) == (
        f"game g1 changed since it was read: it is at seq {there.seq}, not 1;"
        " load it again and retry"
    )
    await assert_untouched(storage, "g1", there)


async def test_two_nodes_racing_saves_of_one_game_leave_exactly_the_winners_each_time(
    storage: Storage, other: Storage
) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"), best_of=1)
    for n in range(RACES):
        # Each node draws the same round differently, over the same seq.
        mine, theirs = branch(table, storage), branch(table, other)
        mine.game.move("Alice", "Rock", None, now=T0 + n, rng=mine.rng)
        theirs.game.move("Alice", "Paper", None, now=T0 + n, rng=theirs.rng)
        _, a = mine.game.move("bob", "Rock", None, now=T0 + n, rng=mine.rng)
        _, b = theirs.game.move("bob", "Paper", None, now=T0 + n, rng=theirs.rng)
        saves = [(mine, mine.events(a)), (theirs, theirs.events(b))]
        results = await asyncio.gather(
            *(t.storage.save_game(t.game, events) for t, events in saves),
            return_exceptions=True,
        )
        assert sorted(type(r).__name__ for r in results) == ["NoneType", "StaleGame"], results
        table = mine if results[0] is None else theirs
        await assert_untouched(storage, "g1", table)
        await assert_untouched(other, "g1", table)
    assert len(table.game.rounds) == RACES


async def test_a_stale_save_in_a_batch_fails_alone_and_the_others_commit(
    storage: Storage, other: Storage
) -> None:
    tables = await against_the_computer(storage, 10)
    stale = tables[4]
    moved = branch(stale, other)
    await moved.move(moved.game.players[0], "Rock")
    batches, retried = store(storage).batches, store(storage).retried
    results = await asyncio.gather(
        *(t.move(t.game.players[0], "Paper") for t in tables), return_exceptions=True
    )
    assert store(storage).batches - batches < len(tables)  # they were tried together
    assert store(storage).retried == retried  # a stale save is not its batch's failure
    assert [i for i, r in enumerate(results) if r is not None] == [4]
    assert isinstance(results[4], StaleGame)
    await assert_untouched(storage, stale.game.id, moved)
    for t in tables:
        if t is not stale:
            await assert_untouched(storage, t.game.id, t)


async def test_a_stale_rated_save_stores_no_rating(storage: Storage, other: Storage) -> None:
    await register(storage, "ann", "bob")
    here = await Table.start(storage, ("ann", "bob"), best_of=1)
    here.now += 1000
    _, first = here.game.move("ann", "Rock", None, now=here.now, rng=here.rng)
    await storage.save_game(here.game, here.events(first))
    there = branch(here, other)
    await there.move("bob", "Paper")  # finished, unrated, on the other node
    ratings = [RatingUpdate("ann", Rating(1600.0, 300.0, 0.06), 0)]
    ratings.append(RatingUpdate("bob", Rating(1400.0, 300.0, 0.06), 0))
    with pytest.raises(StaleGame):
        await storage.save_game(here.game, here.play("bob", "Scissors"), ratings)
    for name in ("ann", "bob"):
        player = await storage.player(name)
        assert player is not None and (player.rating, player.rated) == (NEW, 0)
        assert await storage.rating_history(name, 10) == []
    await assert_untouched(storage, "g1", there)


async def test_a_save_without_events_is_stored_over_any_seq_unless_one_is_expected(
    storage: Storage, other: Storage
) -> None:
    await register(storage, "Alice", "bob")
    here = await Table.start(storage, ("Alice", "bob"), round_seconds=30)
    there = branch(here, other)
    await there.move("Alice", "Rock")
    here.game.resume(now=T0 + 5000)  # a new deadline, as a restart stores
    with pytest.raises(StaleGame) as info:
        await storage.save_game(here.game, [], expected_seq=1)
    assert (info.value.expected, info.value.stored) == (1, 2)
    await assert_untouched(storage, "g1", there)
    there.game.resume(now=T0 + 6000)
    await other.save_game(there.game, [], expected_seq=2)
    await assert_untouched(storage, "g1", there)
    await storage.save_game(here.game, [])  # no expected seq: stored as it is, seq kept
    assert_same_game(await storage.game("g1"), here.game)
    assert await storage.last_seq("g1") == 2


async def test_an_expected_seq_other_than_the_one_before_the_events_is_a_value_error(
    storage: Storage,
) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"))
    events = table.play("Alice", "Rock")
    with pytest.raises(ValueError, match="not the seq before event 2"):
        await storage.save_game(table.game, events, expected_seq=2)
    await storage.save_game(table.game, events, expected_seq=1)
    assert await storage.last_seq("g1") == 2


async def test_heads_are_each_known_games_last_seq_in_one_answer(storage: Storage) -> None:
    await register(storage, "Alice", "bob")
    played = await Table.start(storage, ("Alice", COMPUTER), id="g1")
    await played.win()
    quiet, _ = Game.start(
        id="quiet", rules=RPS3, best_of=3, players=("bob", COMPUTER), now=T0,
        rng=random.Random(0), epoch="e",
    )  # fmt: skip
    await storage.create_game(quiet, [])  # without its first events: no seq yet
    heads = await storage.heads(["g1", "quiet", "nope", "g1", "a\x00b"])
    assert heads == {"g1": played.seq, "quiet": 0}
    assert played.seq > 1
    assert await storage.heads([]) == {}


def store(storage: Storage) -> SQLStore:
    """The store behind ``storage``, whose counters the tests read."""
    assert isinstance(storage, SQLStore)
    return storage
