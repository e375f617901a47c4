"""The game state machine: starting a game, moves, rounds and scoring."""

from __future__ import annotations

import random

import pytest

from protocol.errors import BadMessage
from protocol.game import (
    COMPUTER,
    MAX_ROUNDS,
    Game,
    GameOver,
    Moved,
    Reason,
    Round,
    RoundOpened,
    RoundPlayed,
    Status,
)
from tests.protocol.gamehelpers import RPS3, T0, beater, play_round, pvp, vs_computer

# -- starting --------------------------------------------------------------------------------


def test_start_opens_round_one_and_returns_its_round_opened() -> None:
    game, effects = Game.start(
        id="g1",
        rules=RPS3,
        best_of=3,
        players=("ann", "bob"),
        now=T0,
        rng=random.Random(1),
        epoch="e1",
        round_seconds=30,
    )
    assert effects == [RoundOpened(round=1, deadline=T0 + 30_000, commitment=None)]
    assert (game.status, game.round, game.score) == (Status.PLAYING, 1, {"ann": 0, "bob": 0})


def test_a_game_without_round_seconds_has_no_deadline() -> None:
    assert pvp().deadline is None


def test_a_game_needs_two_different_players_ignoring_case() -> None:
    with pytest.raises(BadMessage):
        Game.start(
            id="g",
            rules=RPS3,
            best_of=3,
            players=("ann", "ANN"),
            now=T0,
            rng=random.Random(0),
            epoch="e",
        )


def test_the_computer_cannot_take_the_first_seat() -> None:
    with pytest.raises(BadMessage):
        Game.start(
            id="g",
            rules=RPS3,
            best_of=3,
            players=(COMPUTER, "ann"),
            now=T0,
            rng=random.Random(0),
            epoch="e",
        )


@pytest.mark.parametrize("best_of", [1, 3, 5, 7, 9, 11, 13, 15])
def test_every_odd_best_of_from_1_to_15_is_accepted(best_of: int) -> None:
    assert pvp(best_of=best_of).wins_needed == (best_of + 1) // 2


@pytest.mark.parametrize("best_of", [0, 2, 4, 14, 16, 17, -1, True, False, 3.0, "3", None])
def test_any_other_best_of_is_a_bad_message(best_of: object) -> None:
    with pytest.raises(BadMessage) as info:
        pvp(best_of=best_of)  # type: ignore[arg-type]
    assert info.value.code == "bad_request"
    assert "best_of" in info.value.message


# -- moves and rounds ------------------------------------------------------------------------


def test_the_first_move_of_a_pvp_round_yields_only_moved() -> None:
    game = pvp()
    assert game.move("ann", "Rock", None, now=T0, rng=random.Random(0)) == (
        1,
        [Moved(round=1, player="ann")],
    )


def test_the_first_move_stays_secret_until_the_second() -> None:
    game = pvp()
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    assert game.rounds == []
    assert game.round == 1


def test_the_second_move_resolves_the_round_and_opens_the_next() -> None:
    game = pvp()
    effects = play_round(game, "Rock", "Scissors")
    assert effects == [
        Moved(round=1, player="bob"),
        RoundPlayed(
            result=Round(round=1, moves={"ann": "Rock", "bob": "Scissors"}, winner="ann"),
            score={"ann": 1, "bob": 0},
        ),
        RoundOpened(round=2, deadline=None, commitment=None),
    ]


def test_seats_and_rolls_are_matched_ignoring_case() -> None:
    game = pvp()
    _, effects = game.move("ANN", "  rock ", None, now=T0, rng=random.Random(0))
    assert effects == [Moved(round=1, player="ann")]
    assert game.pending == {"ann": "Rock"}


def test_a_tied_round_counts_as_a_round_but_not_a_win() -> None:
    game = pvp()
    effects = play_round(game, "Paper", "Paper")
    assert effects[1] == RoundPlayed(
        result=Round(round=1, moves={"ann": "Paper", "bob": "Paper"}, winner=None),
        score={"ann": 0, "bob": 0},
    )
    assert (game.round, len(game.rounds)) == (2, 1)


@pytest.mark.parametrize("best_of", [1, 3, 5, 7, 9, 11, 13, 15])
def test_the_game_is_won_at_best_of_plus_one_over_two_round_wins(best_of: int) -> None:
    game = pvp(best_of=best_of)
    needed = (best_of + 1) // 2
    for _ in range(needed - 1):
        assert isinstance(play_round(game, "Rock", "Scissors")[-1], RoundOpened)
    last = play_round(game, "Rock", "Scissors")[-1]
    assert last == GameOver(winner="ann", reason=Reason.WON, score={"ann": needed, "bob": 0})


def test_a_won_game_is_finished_with_winner_and_time() -> None:
    game = pvp(best_of=1)
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    game.move("bob", "Paper", None, now=T0 + 5, rng=random.Random(0))
    assert (game.status, game.reason, game.winner, game.finished) == (
        Status.FINISHED,
        Reason.WON,
        "bob",
        T0 + 5,
    )


def test_the_round_stays_at_the_last_one_when_the_game_ends() -> None:
    game = pvp(best_of=3)
    play_round(game, "Rock", "Scissors")
    play_round(game, "Rock", "Scissors")
    assert game.round == 2


def test_ties_do_not_bring_the_end_closer() -> None:
    game = pvp(best_of=3)
    for _ in range(10):
        play_round(game, "Rock", "Rock")
    assert (game.status, game.round) == (Status.PLAYING, 11)


def test_round_50_with_no_winner_ends_the_game_drawn_whatever_the_score() -> None:
    game = pvp(best_of=15)
    for _ in range(MAX_ROUNDS - 1):
        play_round(game, "Rock", "Rock")
    effects = play_round(game, "Rock", "Scissors")
    assert effects[-1] == GameOver(winner=None, reason=Reason.DRAWN, score={"ann": 1, "bob": 0})
    assert (game.round, game.status, game.winner) == (MAX_ROUNDS, Status.FINISHED, None)


def test_the_drawn_game_over_effect_carries_no_winner_and_the_score() -> None:
    game = pvp(best_of=3)
    for _ in range(MAX_ROUNDS - 1):
        play_round(game, "Rock", "Rock")
    effects = play_round(game, "Paper", "Paper")
    assert effects[-1] == GameOver(winner=None, reason=Reason.DRAWN, score={"ann": 0, "bob": 0})
    assert len(game.rounds) == MAX_ROUNDS


def test_a_full_best_of_5_against_the_computer_is_won_by_beating_each_roll() -> None:
    game, _ = vs_computer(best_of=5)
    rng = random.Random(3)
    effects: list[RoundOpened | Moved | RoundPlayed | GameOver] = []
    while not game.is_over:
        assert game.secret is not None
        _, effects = game.move("ann", beater(RPS3, game.secret.roll), None, now=T0, rng=rng)
    assert effects[-1] == GameOver(winner="ann", reason=Reason.WON, score={"ann": 3, COMPUTER: 0})
    assert [r.round for r in game.rounds] == [1, 2, 3]
    assert all(r.winner == "ann" for r in game.rounds)


def test_a_move_against_the_computer_resolves_at_once() -> None:
    game, _ = vs_computer()
    assert game.secret is not None
    computer_roll = game.secret.roll
    _, effects = game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    assert [type(e) for e in effects] == [Moved, RoundPlayed, RoundOpened]
    played = effects[1]
    assert isinstance(played, RoundPlayed)
    assert played.result.moves == {"ann": "Rock", COMPUTER: computer_roll}


def test_a_full_game_against_the_computer_always_ends_with_a_winner_at_3() -> None:
    game, _ = vs_computer(best_of=5, seed=11)
    rng = random.Random(11)
    while not game.is_over:
        game.move("ann", "Rock", None, now=T0, rng=rng)
    assert game.reason is Reason.WON
    assert game.winner is not None and game.score[game.winner] == 3
    assert sum(game.score.values()) <= len(game.rounds)
