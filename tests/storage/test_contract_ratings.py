"""The storage contract, ratings, on every backend (``BACKENDS`` in conftest.py)."""

from __future__ import annotations

import asyncio

import pytest

from protocol.game import COMPUTER
from protocol.ratings import NEW, Rating, rate_game
from storage.base import RatingUpdate, StaleRating, Storage
from tests.storage.contract import RPS15, T0, Table, register


async def finished(storage: Storage, game_id: str, a: str, b: str) -> Table:
    """A best-of-1 rps3 game ``a`` won against ``b``, in memory: its last change is not saved."""
    table = await Table.start(storage, (a, b), id=game_id, best_of=1)
    table.now += 1000
    _, first = table.game.move(a, "Rock", None, now=table.now, rng=table.rng)
    await storage.save_game(table.game, table.events(first))
    return table


async def finish(table: Table, ratings: list[RatingUpdate]) -> None:
    """Save the game's winning move with ``ratings``."""
    b = table.game.players[1]
    table.game.rating_change = {p.player: 1 for p in ratings}
    await table.storage.save_game(table.game, table.play(b, "Scissors"), ratings)


async def test_a_new_player_holds_the_new_rating(storage: Storage) -> None:
    ann = await storage.create_player("Ann", "h1", T0)
    assert (ann.rating, ann.rated) == (NEW, 0)
    assert await storage.player("ann") == ann


async def test_a_rated_game_saves_ratings_change_and_history_together(storage: Storage) -> None:
    await register(storage, "ann", "bob")
    table = await finished(storage, "g1", "ann", "bob")
    after_a, after_b = rate_game(NEW, NEW, 1.0)
    await finish(table, [RatingUpdate("ann", after_a, 0), RatingUpdate("bob", after_b, 0)])
    ann, bob = await storage.player("ann"), await storage.player("bob")
    assert ann is not None and (ann.rating, ann.rated) == (after_a, 1)
    assert bob is not None and (bob.rating, bob.rated) == (after_b, 1)
    stored = await storage.game("g1")
    assert stored is not None and stored.rating_change == {"ann": 1, "bob": 1}
    [point] = await storage.rating_history("ANN", 10)
    assert (point.game_id, point.ts, point.rating) == ("g1", table.game.finished, after_a)


async def test_a_rating_read_before_another_game_changed_it_is_refused_with_nothing_saved(
    storage: Storage,
) -> None:
    await register(storage, "ann", "bob", "cat")
    first = await finished(storage, "g1", "ann", "bob")
    changed = Rating(1600.0, 300.0, 0.06)
    await finish(first, [RatingUpdate("ann", changed, 0), RatingUpdate("bob", changed, 0)])
    second = await finished(storage, "g2", "ann", "cat")  # rated as if ann were still at 0
    with pytest.raises(StaleRating):
        await finish(second, [RatingUpdate("ann", changed, 0), RatingUpdate("cat", changed, 0)])
    cat, game = await storage.player("cat"), await storage.game("g2")
    assert cat is not None and (cat.rating, cat.rated) == (NEW, 0)
    assert game is not None and not game.is_over and game.rating_change is None
    assert await storage.rating_history("cat", 10) == []


async def test_the_history_is_the_latest_games_oldest_first(storage: Storage) -> None:
    await register(storage, "ann", "bob")
    for n in range(3):
        table = await finished(storage, f"g{n}", "ann", "bob")
        value = Rating(1500.0 + n, 300.0, 0.06)
        await finish(table, [RatingUpdate("ann", value, n), RatingUpdate("bob", value, n)])
    history = await storage.rating_history("ann", 2)
    assert [(p.game_id, p.rating.value) for p in history] == [("g1", 1501.0), ("g2", 1502.0)]


async def test_rating_leaders_leave_out_provisional_players(storage: Storage) -> None:
    await register(storage, "ann", "bob", "cat")
    table = await finished(storage, "g1", "ann", "bob")
    await finish(
        table,
        [
            RatingUpdate("ann", Rating(1600.0, 110.4, 0.06), 0),
            RatingUpdate("bob", Rating(1700.0, 110.5, 0.06), 0),
        ],
    )
    table = await finished(storage, "g2", "cat", "bob")
    await finish(
        table,
        [
            RatingUpdate("cat", Rating(1650.0, 60.0, 0.06), 0),
            RatingUpdate("bob", Rating(1700.0, 111.0, 0.06), 1),
        ],
    )
    leaders = await storage.rating_leaders(10)
    assert [(r.name, r.wins, r.games, r.rating.value) for r in leaders] == [
        ("cat", 1, 1, 1650.0),
        ("ann", 1, 1, 1600.0),
    ]
    assert [r.name for r in await storage.rating_leaders(1)] == ["cat"]


async def test_two_games_of_one_player_saved_in_one_batch_never_both_take_one_rating(
    storage: Storage,
) -> None:
    await register(storage, "ann", "bob", "cat")
    # A player holds one live game at a time, so the second claim on ann's rating comes with a
    # save of a game already finished (no hub makes one; the guard holds all the same).
    second = await finished(storage, "g2", "ann", "cat")
    await second.move("cat", "Scissors")
    first = await finished(storage, "g1", "ann", "bob")
    up = Rating(1600.0, 300.0, 0.06)
    second.game.rating_change = {"ann": 1, "cat": 1}
    again = [RatingUpdate("ann", up, 0), RatingUpdate("cat", up, 0)]
    outcomes = await asyncio.gather(
        finish(first, [RatingUpdate("ann", up, 0), RatingUpdate("bob", up, 0)]),
        storage.save_game(second.game, [], again),
        return_exceptions=True,
    )
    assert outcomes[0] is None and isinstance(outcomes[1], StaleRating), outcomes
    ann = await storage.player("ann")
    assert ann is not None and ann.rated == 1
    assert [p.game_id for p in await storage.rating_history("ann", 10)] == ["g1"]


async def test_computer_rounds_are_the_latest_under_the_rules_oldest_first(
    storage: Storage,
) -> None:
    await register(storage, "ann", "bob")
    first = await Table.start(storage, ("ann", COMPUTER), id="g1", best_of=15)
    for roll in ("Rock", "Paper"):
        await first.move("ann", roll)
    await first.resign("ann")  # a player holds one live game at a time
    other = await Table.start(storage, ("ann", COMPUTER), id="g2", rules=RPS15, now=T0 + 1)
    await other.move("ann", "Fire")
    await other.resign("ann")
    second = await Table.start(storage, ("ann", COMPUTER), id="g3", best_of=15, now=T0 + 2)
    await second.move("ann", "Scissors")
    rounds = [r.moves for r in first.game.rounds + second.game.rounds]
    seen = [(m["ann"], m[COMPUTER]) for m in rounds]
    assert await storage.computer_rounds("ANN", "rps3") == seen
    assert await storage.computer_rounds("ann", "rps3", limit=2) == seen[1:]
    assert await storage.computer_rounds("ann", "rps3", before="g3") == seen[:2]
    assert await storage.computer_rounds("bob", "rps3") == []
