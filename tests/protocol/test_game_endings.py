"""A game's rounds and games that end without a move: deadlines and resigning."""

from __future__ import annotations

import random

import pytest

from protocol.errors import Forbidden, IllegalMove
from protocol.game import COMPUTER, GameOver, Reason, Round, RoundOpened, RoundPlayed, Status
from tests.protocol.gamehelpers import T0, play_round, pvp, snapshot, vs_computer

# -- deadlines -------------------------------------------------------------------------------


def test_a_round_opens_with_a_deadline_round_seconds_ahead() -> None:
    game = pvp(round_seconds=30)
    play_round(game, "Rock", "Rock")
    assert game.deadline == T0 + 30_000


def test_expire_before_the_deadline_does_nothing() -> None:
    game = pvp(round_seconds=30)
    before = snapshot(game)
    assert game.expire(1, now=T0 + 29_999, rng=random.Random(0)) == []
    assert snapshot(game) == before


def test_expire_of_a_stale_round_does_nothing() -> None:
    game = pvp(round_seconds=30)
    play_round(game, "Rock", "Rock")
    before = snapshot(game)
    assert game.expire(1, now=T0 + 60_000, rng=random.Random(0)) == []
    assert snapshot(game) == before


def test_expire_without_a_deadline_does_nothing() -> None:
    game = pvp()
    assert game.expire(1, now=T0 + 10**9, rng=random.Random(0)) == []


def test_expire_of_a_finished_game_does_nothing() -> None:
    game = pvp(best_of=1, round_seconds=30)
    play_round(game, "Rock", "Scissors")
    assert game.expire(1, now=T0 + 60_000, rng=random.Random(0)) == []


def test_a_seat_that_missed_the_deadline_loses_the_round_with_a_null_move() -> None:
    game = pvp(round_seconds=30)
    game.move("bob", "Paper", None, now=T0, rng=random.Random(0))
    effects = game.expire(1, now=T0 + 30_000, rng=random.Random(0))
    assert effects == [
        RoundPlayed(
            result=Round(round=1, moves={"ann": None, "bob": "Paper"}, winner="bob"),
            score={"ann": 0, "bob": 1},
        ),
        RoundOpened(round=2, deadline=T0 + 60_000, commitment=None),
    ]


def test_a_game_decided_by_a_round_lost_on_the_deadline_ends_with_timeout() -> None:
    game = pvp(best_of=1, round_seconds=30)
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    effects = game.expire(1, now=T0 + 30_000, rng=random.Random(0))
    assert effects[-1] == GameOver(winner="ann", reason=Reason.TIMEOUT, score={"ann": 1, "bob": 0})
    assert (game.reason, game.deadline) == (Reason.TIMEOUT, None)


def test_a_human_who_misses_the_deadline_against_the_computer_loses_the_round() -> None:
    game, _ = vs_computer(round_seconds=30)
    assert game.secret is not None
    computer_roll = game.secret.roll
    effects = game.expire(1, now=T0 + 30_000, rng=random.Random(0))
    played = effects[0]
    assert isinstance(played, RoundPlayed)
    assert played.result.moves == {"ann": None, COMPUTER: computer_roll}
    assert played.result.winner == COMPUTER


def test_both_seats_missing_the_deadline_abandon_the_game_with_both_moves_null() -> None:
    game = pvp(round_seconds=30)
    effects = game.expire(1, now=T0 + 30_000, rng=random.Random(0))
    assert effects == [
        RoundPlayed(
            result=Round(round=1, moves={"ann": None, "bob": None}, winner=None),
            score={"ann": 0, "bob": 0},
        ),
        GameOver(winner=None, reason=Reason.ABANDONED, score={"ann": 0, "bob": 0}),
    ]
    assert (game.status, game.reason, game.finished) == (
        Status.FINISHED,
        Reason.ABANDONED,
        T0 + 30_000,
    )


def test_a_deadline_that_passed_long_ago_fires_at_once() -> None:
    game = pvp(round_seconds=30)
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    effects = game.expire(1, now=T0 + 10**9, rng=random.Random(0))
    assert isinstance(effects[0], RoundPlayed)
    assert game.deadline == T0 + 10**9 + 30_000


# -- resigning -------------------------------------------------------------------------------


def test_resigning_ends_the_game_and_the_other_seat_wins() -> None:
    game = pvp()
    play_round(game, "Rock", "Scissors")
    effects = game.resign("ann", now=T0 + 7)
    assert effects == [GameOver(winner="bob", reason=Reason.RESIGNED, score={"ann": 1, "bob": 0})]
    assert (game.status, game.winner, game.finished, game.deadline) == (
        Status.FINISHED,
        "bob",
        T0 + 7,
        None,
    )


def test_resigning_against_the_computer_lets_the_computer_win() -> None:
    game, _ = vs_computer()
    effects = game.resign("ann", now=T0)
    assert effects == [
        GameOver(winner=COMPUTER, reason=Reason.RESIGNED, score={"ann": 0, COMPUTER: 0})
    ]
    assert game.commitment is None


def test_resigning_a_finished_game_is_an_illegal_move() -> None:
    game = pvp()
    game.resign("bob", now=T0)
    with pytest.raises(IllegalMove) as info:
        game.resign("ann", now=T0)
    assert info.value.code == "conflict"


def test_a_player_without_a_seat_is_forbidden_to_resign() -> None:
    with pytest.raises(Forbidden):
        pvp().resign("eve", now=T0)
