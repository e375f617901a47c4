"""The storage contract, games and their events, on every backend."""

from __future__ import annotations

import json
import random

import attrs
import pytest

from protocol.game import COMPUTER, Game, Reason, Status
from storage.base import (
    Storage,
    StorageError,
    StoredEvent,
)
from tests.storage.contract import RPS3, RPS15, T0, Table, assert_same_game, register

# -- games -------------------------------------------------------------------------------------


async def test_a_game_against_the_computer_reloads_mid_game_with_its_secret(
    storage: Storage,
) -> None:
    await register(storage, "Alice")
    table = await Table.start(
        storage, ("Alice", COMPUTER), rules=RPS15, best_of=5, round_seconds=30, seed=7
    )
    await table.win()
    await table.lose()
    game = table.game
    assert game.round == 3 and game.secret is not None and game.deadline is not None
    assert_same_game(await storage.game("g1"), game)


async def test_a_game_between_players_reloads_with_the_open_rounds_pending_move(
    storage: Storage,
) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"), best_of=5, round_seconds=10)
    await table.round("Rock", "Scissors")
    await table.round("Paper", "Paper")
    await table.move("bob", "Rock")
    game = table.game
    assert game.pending == {"bob": "Rock"} and game.secret is None
    assert_same_game(await storage.game("g1"), game)


async def test_a_round_missed_on_the_deadline_reloads_with_a_null_move(storage: Storage) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"), best_of=1, round_seconds=5)
    await table.move("Alice", "Rock")
    await table.expire()
    loaded = await storage.game("g1")
    assert loaded is not None
    assert loaded.rounds[0].moves == {"Alice": "Rock", "bob": None}
    assert (loaded.status, loaded.reason, loaded.winner) == (
        Status.FINISHED,
        Reason.TIMEOUT,
        "Alice",
    )
    assert_same_game(loaded, table.game)


async def test_a_finished_game_reloads_with_every_round_and_commitment(storage: Storage) -> None:
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER), best_of=3, seed=3)
    await table.lose()
    await table.win()
    await table.win()
    loaded = await storage.game("g1")
    assert loaded is not None and loaded.is_over and loaded.winner == "Alice"
    assert all(r.commitment and r.nonce for r in loaded.rounds)
    assert_same_game(loaded, table.game)


async def test_a_game_with_an_idle_limit_reloads_with_it(storage: Storage) -> None:
    await register(storage, "Alice")
    game, _ = Game.start(
        id="g1",
        rules=RPS15,
        best_of=5,
        players=("Alice", COMPUTER),
        now=T0,
        rng=random.Random(2),
        epoch="e",
        idle_seconds=600,
    )
    await storage.create_game(game, [])
    assert game.idle_until == T0 + 600_000
    assert_same_game(await storage.game("g1"), game)


async def test_an_unknown_game_is_none(storage: Storage) -> None:
    assert await storage.game("nope") is None


async def test_live_games_are_the_playing_ones_oldest_first(storage: Storage) -> None:
    await register(storage, "Alice", "bob", "carol")
    newer = await Table.start(storage, ("bob", COMPUTER), id="b", now=T0 + 50)
    done = await Table.start(storage, ("carol", COMPUTER), id="c", now=T0)
    await done.resign("carol")  # which frees carol's seat for the next
    older = await Table.start(storage, ("Alice", "carol"), id="a", now=T0 + 10)
    live = await storage.live_games()
    assert [g.id for g in live] == ["a", "b"]
    assert_same_game(live[0], older.game)
    assert_same_game(live[1], newer.game)


async def test_events_are_stored_in_order_and_replayed_after_a_seq(storage: Storage) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"), best_of=1)
    await table.move("Alice", "Rock")
    await table.move("bob", "Paper")
    stored = await storage.events("g1", 0)
    assert [e.seq for e in stored] == list(range(1, table.seq + 1))
    assert stored[0].event == "round_open"
    assert [e.event for e in stored][-2:] == ["round", "game_over"]
    assert stored[-2].data["moves"] == {"Alice": "Rock", "bob": "Paper"}
    assert await storage.events("g1", 2) == stored[2:]
    assert await storage.events("g1", table.seq) == []


async def test_events_replay_from_every_seq_even_inside_one_saves_events(storage: Storage) -> None:
    """A move against the computer stores three events at once (``moved``, ``round``,
    ``round_open``): a subscriber that saw only some of them gets exactly the rest."""
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER), best_of=5)
    for roll in ("Rock", "Paper", "Scissors"):
        await table.move("Alice", roll)
    stored = await storage.events("g1", 0)
    assert [e.seq for e in stored] == list(range(1, table.seq + 1))
    whole = [(e.seq, e.ts, e.event, e.data, e.text) for e in stored]
    for after in range(table.seq + 1):
        rest = await storage.events("g1", after)
        assert [(e.seq, e.ts, e.event, e.data, e.text) for e in rest] == whole[after:], after


async def test_events_saved_together_keep_their_own_times_and_texts(storage: Storage) -> None:
    """Events saved in one change need not share a time, nor be JSON without line breaks: each
    reads back as it was given."""
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER), best_of=5)
    events = table.play("Alice", "Rock")
    assert len(events) == 3
    events[0] = StoredEvent(
        events[0].seq, events[0].ts, events[0].event, events[0].data,
        json.dumps(events[0].data, indent=1),
    )  # fmt: skip
    events[2] = StoredEvent(events[2].seq, events[2].ts + 7, events[2].event, events[2].data)
    await storage.save_game(table.game, events)
    given = [(e.seq, e.ts, e.event, e.data, e.text) for e in events]
    assert "\n" in given[0][4]
    for after in range(events[0].seq - 1, table.seq + 1):
        rest = await storage.events("g1", after)
        assert [(e.seq, e.ts, e.event, e.data, e.text) for e in rest] == given[
            after - events[0].seq + 1 :
        ], after


async def test_last_seq_follows_the_saved_events(storage: Storage) -> None:
    await register(storage, "Alice")
    assert await storage.last_seq("g1") == 0
    table = await Table.start(storage, ("Alice", COMPUTER))
    assert await storage.last_seq("g1") == 1
    await table.win()
    assert await storage.last_seq("g1") == table.seq > 1


async def test_a_save_without_events_keeps_the_last_seq(storage: Storage) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"))
    table.game.move("Alice", "Rock", None, now=T0, rng=table.rng)
    await storage.save_game(table.game, [])
    assert await storage.last_seq("g1") == 1
    assert_same_game(await storage.game("g1"), table.game)


async def test_a_failed_save_leaves_nothing_half_written(storage: Storage) -> None:
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER), best_of=3)
    before = await storage.game("g1")
    assert before is not None
    events_before = await storage.events("g1", 0)
    _, effects = table.game.move("Alice", "Rock", None, now=T0 + 1, rng=table.rng)
    events = table.events(effects)
    duplicate = [attrs.evolve(events[0], seq=1), *events[1:]]
    with pytest.raises(StorageError):
        await storage.save_game(table.game, duplicate)
    assert_same_game(await storage.game("g1"), before)
    assert await storage.events("g1", 0) == events_before
    assert await storage.last_seq("g1") == 1


async def test_a_gap_in_event_seqs_is_refused(storage: Storage) -> None:
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER))
    _, effects = table.game.move("Alice", "Rock", None, now=T0 + 1, rng=table.rng)
    events = table.events(effects)
    with pytest.raises(StorageError):
        await storage.save_game(table.game, [attrs.evolve(e, seq=e.seq + 1) for e in events])
    assert await storage.last_seq("g1") == 1


async def test_saving_a_game_that_was_never_created_is_a_storage_error(storage: Storage) -> None:
    game, _ = Game.start(
        id="ghost",
        rules=RPS3,
        best_of=3,
        players=("Alice", COMPUTER),
        now=T0,
        rng=random.Random(0),
        epoch="e",
    )
    with pytest.raises(StorageError):
        await storage.save_game(game, [])
    assert await storage.game("ghost") is None


async def test_creating_a_game_twice_is_a_storage_error(storage: Storage) -> None:
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER))
    with pytest.raises(StorageError):
        await storage.create_game(table.game, [])
