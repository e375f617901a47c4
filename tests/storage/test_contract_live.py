"""The storage contract, one live game per player and the games due, across nodes sharing the
data, on every backend: two stores on the same data stand for two hub nodes."""

from __future__ import annotations

import asyncio
import random

import pytest

from protocol.game import COMPUTER, Game
from storage.base import SeatTaken, Storage
from storage.store import SQLStore
from tests.storage.contract import RPS3, T0, Table, register

RACES = 8


# -- seats -------------------------------------------------------------------------------------


async def test_a_live_game_seats_its_humans_ignoring_case_and_never_the_computer(
    storage: Storage,
) -> None:
    await register(storage, "Alice", "bob", "carol")
    await Table.start(storage, ("Alice", "bob"), id="g1")
    await Table.start(storage, ("carol", COMPUTER), id="g2")
    seats = [await storage.live_game_of(p) for p in ("ALICE", "bob", "Carol", "computer")]
    assert seats == ["g1", "g1", "g2", None]
    assert await storage.live_game_of("dave") is None
    assert await storage.live_game_of("a\x00b") is None


async def test_the_live_games_ids_are_those_seating_someone_and_go_when_they_end(
    storage: Storage,
) -> None:
    assert await storage.live_game_ids() == set()
    await register(storage, "Alice", "bob", "carol")
    table = await Table.start(storage, ("Alice", "bob"), id="g1", best_of=1)
    await Table.start(storage, ("carol", COMPUTER), id="g2")
    assert await storage.live_game_ids() == {"g1", "g2"}
    await table.resign("bob")
    assert await storage.live_game_ids() == {"g2"}


async def test_a_second_live_game_for_a_seated_player_is_refused_and_nothing_of_it_stored(
    storage: Storage,
) -> None:
    await register(storage, "Alice", "bob", "carol")
    await Table.start(storage, ("Alice", "bob"), id="g1")
    with pytest.raises(SeatTaken) as info:
        await Table.start(storage, ("carol", "ALICE"), id="g2")
    assert info.value.code == "conflict"
    assert str(info.value) == "ALICE is already playing game g1; finish or resign it first"
    assert (info.value.player, info.value.game_id) == ("ALICE", "g1")
    assert await storage.game("g2") is None
    assert await storage.events("g2", 0) == []
    assert await storage.live_game_of("carol") is None
    assert await storage.live_game_of("alice") == "g1"


@pytest.mark.parametrize("end", ["resign", "win", "expire"])
async def test_the_save_that_ends_a_game_frees_its_seats(storage: Storage, end: str) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", COMPUTER), best_of=1, round_seconds=5)
    await Table.start(storage, ("bob", COMPUTER), id="g2")
    assert await storage.live_game_of("Alice") == "g1"
    if end == "resign":
        await table.resign("Alice")
    else:
        await (table.win() if end == "win" else table.expire())
    assert table.game.is_over
    assert await storage.live_game_of("Alice") is None
    assert await storage.live_game_of("bob") == "g2"
    await Table.start(storage, ("Alice", "computer"), id="g3", now=T0 + 60_000)
    assert await storage.live_game_of("alice") == "g3"


async def test_a_game_stored_already_finished_takes_no_seat(storage: Storage) -> None:
    game, _ = Game.start(
        id="old", rules=RPS3, best_of=1, players=("Alice", "bob"), now=T0,
        rng=random.Random(0), epoch="e",
    )  # fmt: skip
    game.resign("bob", now=T0 + 1)
    await storage.create_game(game, [])
    assert await storage.live_game_of("Alice") is None
    await Table.start(storage, ("Alice", "bob"), id="g1")
    assert await storage.live_game_of("bob") == "g1"


async def test_a_taken_seat_in_a_batch_of_new_games_fails_alone(storage: Storage) -> None:
    names = [f"p{i}" for i in range(6)]
    await register(storage, *names)
    await Table.start(storage, ("p3", COMPUTER), id="held")
    s = store(storage)
    batches = s.batches
    results = await asyncio.gather(
        *(Table.start(storage, (n, COMPUTER), id=f"g{n}", seed=i) for i, n in enumerate(names)),
        return_exceptions=True,
    )
    assert s.batches - batches < len(names)  # they were tried together
    failed = {names[i]: r for i, r in enumerate(results) if not isinstance(r, Table)}
    assert list(failed) == ["p3"] and isinstance(failed["p3"], SeatTaken), results
    assert str(failed["p3"]) == "p3 is already playing game held; finish or resign it first"
    assert await storage.game("gp3") is None
    assert [await storage.live_game_of(n) for n in names] == [
        "held" if n == "p3" else f"g{n}" for n in names
    ]


async def test_two_new_games_of_one_player_in_one_batch_seat_the_first_asked_for(
    storage: Storage,
) -> None:
    await register(storage, "Alice", "bob")
    results = await asyncio.gather(
        Table.start(storage, ("Alice", COMPUTER), id="first"),
        Table.start(storage, ("bob", "alice"), id="second"),
        return_exceptions=True,
    )
    assert isinstance(results[0], Table) and isinstance(results[1], SeatTaken), results
    assert str(results[1]) == "alice is already playing game first; finish or resign it first"
    assert await storage.game("second") is None
    assert await storage.live_game_of("bob") is None


async def test_two_nodes_racing_to_start_games_for_one_player_seat_them_once(
    storage: Storage, other: Storage
) -> None:
    await register(storage, "Alice", "bob", "carol")
    for n in range(RACES):
        results = await asyncio.gather(
            Table.start(storage, ("Alice", "bob"), id=f"b{n}", now=T0 + n),
            Table.start(other, ("carol", "alice"), id=f"c{n}", now=T0 + n),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, Table)]
        lost = [r for r in results if isinstance(r, SeatTaken)]
        assert (len(won), len(lost)) == (1, 1), results
        winner = won[0].game
        loser = f"c{n}" if winner.id == f"b{n}" else f"b{n}"
        assert (lost[0].game_id, lost[0].player.lower()) == (winner.id, "alice")
        assert await storage.game(loser) is None
        for name in ("Alice", "bob", "carol"):
            seated = name.lower() in {p.lower() for p in winner.players}
            assert await other.live_game_of(name) == (winner.id if seated else None)
        await won[0].resign("Alice")


# -- the games due -----------------------------------------------------------------------------


async def idle_game(storage: Storage, game_id: str, player: str, now: int, seconds: int) -> Game:
    """A live game against the computer with an idle limit of ``seconds``, and no deadline."""
    game, _ = Game.start(
        id=game_id, rules=RPS3, best_of=3, players=(player, COMPUTER), now=now,
        rng=random.Random(0), epoch="e", idle_seconds=seconds,
    )  # fmt: skip
    await storage.create_game(game, [])
    return game


async def test_overdue_games_are_the_live_ones_due_by_now_the_longest_overdue_first(
    storage: Storage,
) -> None:
    await register(storage, "a", "b", "c", "d", "e", "f")
    await Table.start(storage, ("a", COMPUTER), id="deadline", round_seconds=5, now=T0)
    await idle_game(storage, "idle", "b", T0 - 3000, 5)  # due at T0 + 2000
    await Table.start(storage, ("c", COMPUTER), id="untimed", now=T0 - 60_000)
    await Table.start(storage, ("d", COMPUTER), id="later", round_seconds=30, now=T0)
    done = await Table.start(storage, ("e", COMPUTER), id="done", round_seconds=1, now=T0)
    await done.resign("e")
    await idle_game(storage, "soonest", "f", T0 - 4000, 4)  # no deadline, idle limit at T0
    assert await storage.overdue(T0 - 1) == []
    assert await storage.overdue(T0) == ["soonest"]
    assert await storage.overdue(T0 + 5000) == ["soonest", "idle", "deadline"]
    assert await storage.overdue(T0 + 5000, limit=2) == ["soonest", "idle"]
    assert await storage.overdue(T0 + 10**9) == ["soonest", "idle", "deadline", "later"]


async def test_the_earlier_of_a_deadline_and_an_idle_limit_makes_a_game_due(
    storage: Storage,
) -> None:
    await register(storage, "a", "b")
    game, _ = Game.start(
        id="g1", rules=RPS3, best_of=3, players=("a", COMPUTER), now=T0,
        rng=random.Random(0), epoch="e", round_seconds=60, idle_seconds=30,
    )  # fmt: skip
    await storage.create_game(game, [])
    assert game.due == T0 + 30_000
    assert await storage.overdue(T0 + 29_999) == []
    assert await storage.overdue(T0 + 30_000) == ["g1"]


def store(storage: Storage) -> SQLStore:
    """The store behind ``storage``, whose counters the tests read."""
    assert isinstance(storage, SQLStore)
    return storage
