"""The game's answers to a move it has seen or cannot take: repeats, conflicts, refusals."""

from __future__ import annotations

import random

import pytest

from protocol.errors import BadMessage, Forbidden, IllegalMove, UnknownRoll
from protocol.game import COMPUTER
from tests.protocol.gamehelpers import T0, play_round, pvp, snapshot, vs_computer


def test_the_same_roll_for_a_pending_round_returns_no_effects() -> None:
    game = pvp()
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    before = snapshot(game)
    assert game.move("ann", "rock", None, now=T0, rng=random.Random(0)) == (1, [])
    assert snapshot(game) == before


def test_the_same_roll_for_a_pending_round_with_its_number_returns_no_effects() -> None:
    game = pvp()
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    assert game.move("ann", "Rock", 1, now=T0, rng=random.Random(0)) == (1, [])


def test_the_same_roll_for_a_resolved_round_returns_no_effects() -> None:
    game = pvp()
    play_round(game, "Rock", "Rock")
    before = snapshot(game)
    assert game.move("bob", "Rock", 1, now=T0, rng=random.Random(0)) == (1, [])
    assert snapshot(game) == before


def test_the_same_roll_after_the_game_ended_returns_no_effects() -> None:
    game = pvp(best_of=1)
    play_round(game, "Rock", "Scissors")
    assert game.is_over
    assert game.move("bob", "Scissors", 1, now=T0, rng=random.Random(0)) == (1, [])


def test_a_different_roll_for_a_pending_round_is_an_illegal_move() -> None:
    game = pvp()
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    with pytest.raises(IllegalMove) as info:
        game.move("ann", "Paper", None, now=T0, rng=random.Random(0))
    assert info.value.code == "conflict"


def test_a_different_roll_for_a_resolved_round_is_an_illegal_move() -> None:
    game = pvp()
    play_round(game, "Rock", "Rock")
    with pytest.raises(IllegalMove) as info:
        game.move("ann", "Paper", 1, now=T0, rng=random.Random(0))
    assert info.value.code == "conflict"


def test_a_different_roll_after_the_game_ended_is_an_illegal_move() -> None:
    game = pvp(best_of=1)
    play_round(game, "Rock", "Scissors")
    with pytest.raises(IllegalMove):
        game.move("ann", "Paper", 1, now=T0, rng=random.Random(0))


def test_a_round_not_yet_open_is_an_illegal_move() -> None:
    game = pvp()
    with pytest.raises(IllegalMove) as info:
        game.move("ann", "Rock", 2, now=T0, rng=random.Random(0))
    assert info.value.code == "conflict"


def test_a_move_without_round_in_a_finished_game_is_an_illegal_move() -> None:
    game = pvp(best_of=1)
    play_round(game, "Rock", "Scissors")
    with pytest.raises(IllegalMove) as info:
        game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    assert info.value.code == "conflict"


def test_a_repeat_for_a_round_the_seat_missed_is_an_illegal_move() -> None:
    game = pvp(round_seconds=1)
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    game.expire(1, now=T0 + 1000, rng=random.Random(0))
    with pytest.raises(IllegalMove):
        game.move("bob", "Rock", 1, now=T0, rng=random.Random(0))


@pytest.mark.parametrize("round", [0, -1])
def test_a_round_below_one_is_a_bad_message(round: int) -> None:
    with pytest.raises(BadMessage) as info:
        pvp().move("ann", "Rock", round, now=T0, rng=random.Random(0))
    assert info.value.code == "bad_request"


def test_an_unknown_roll_is_unknown_roll_and_leaves_the_state_untouched() -> None:
    game = pvp()
    before = snapshot(game)
    with pytest.raises(UnknownRoll):
        game.move("ann", "Spock", None, now=T0, rng=random.Random(0))
    assert snapshot(game) == before


def test_a_player_without_a_seat_is_forbidden_to_move() -> None:
    with pytest.raises(Forbidden) as info:
        pvp().move("eve", "Rock", None, now=T0, rng=random.Random(0))
    assert info.value.code == "forbidden"


def test_nobody_may_move_for_the_computer() -> None:
    game, _ = vs_computer()
    with pytest.raises(Forbidden):
        game.move(COMPUTER, "Rock", None, now=T0, rng=random.Random(0))


def test_an_illegal_move_leaves_the_state_untouched() -> None:
    game = pvp()
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    before = snapshot(game)
    with pytest.raises(IllegalMove):
        game.move("ann", "Paper", None, now=T0, rng=random.Random(0))
    assert snapshot(game) == before
