"""Ratings: Glicko-2 against the paper's worked example, its properties, and the public view."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.ratings import (
    NEW,
    PublicRating,
    Rating,
    change,
    leaderboard,
    new_rating,
    rate,
    rate_game,
    shown,
)

values = st.floats(min_value=500.0, max_value=2500.0)
deviations = st.floats(min_value=30.0, max_value=350.0)
volatilities = st.floats(min_value=0.03, max_value=0.09)
ratings = st.builds(Rating, value=values, deviation=deviations, volatility=volatilities)
scores = st.sampled_from([0.0, 0.5, 1.0])


# -- the published algorithm -----------------------------------------------------------------


def test_the_papers_worked_example() -> None:
    player = Rating(1500.0, 200.0, 0.06)
    games = [
        (Rating(1400.0, 30.0, 0.06), 1.0),
        (Rating(1550.0, 100.0, 0.06), 0.0),
        (Rating(1700.0, 300.0, 0.06), 0.0),
    ]
    after = rate(player, games)
    assert after.value == pytest.approx(1464.06, abs=0.01)
    assert after.deviation == pytest.approx(151.52, abs=0.01)
    assert after.volatility == pytest.approx(0.05999, abs=0.00001)


def test_a_period_without_games_only_widens_the_deviation() -> None:
    after = rate(Rating(1500.0, 200.0, 0.06), [])
    assert after.value == 1500.0
    assert after.volatility == 0.06
    assert after.deviation == pytest.approx((200.0**2 + (0.06 * 173.7178) ** 2) ** 0.5)


def test_a_new_player_starts_at_1500_350_006() -> None:
    assert new_rating() == NEW == Rating(1500.0, 350.0, 0.06)
    assert new_rating().public == PublicRating(value=1500, deviation=350, provisional=True)


def test_two_new_players_who_trade_wins_leave_provisional_after_fourteen_games() -> None:
    a, b = new_rating(), new_rating()
    played = 0
    while a.public.provisional:
        a, b = rate_game(a, b, 1.0 if played % 2 else 0.0)
        played += 1
    assert played == 14
    assert not b.public.provisional


def test_one_game_between_new_players_moves_each_by_the_same_amount() -> None:
    # By hand: g = 0.6691, E = 0.5, v = 8.935, phi' = 1.6712, mu' = phi'^2 * g * 0.5 = 0.9344.
    before = new_rating()
    winner, loser = rate_game(before, before, 1.0)
    assert change(before, winner) == 162
    assert change(before, loser) == -162
    assert winner.public == PublicRating(value=1662, deviation=290, provisional=True)


def test_a_score_other_than_win_draw_or_loss_is_refused() -> None:
    with pytest.raises(ValueError, match=r"1, 0\.5 or 0"):
        rate_game(NEW, NEW, 0.7)


# -- properties ------------------------------------------------------------------------------


@given(a=ratings, b=ratings)
def test_the_winner_gains_and_the_loser_loses(a: Rating, b: Rating) -> None:
    winner, loser = rate_game(a, b, 1.0)
    assert winner.value > a.value
    assert loser.value < b.value
    assert change(a, winner) >= 0
    assert change(b, loser) <= 0


@given(a=ratings, b=ratings)
def test_a_draw_moves_each_towards_the_other(a: Rating, b: Rating) -> None:
    a2, b2 = rate_game(a, b, 0.5)
    # Ratings a hair apart move by less than a float can show: the property holds from a
    # millionth of a point (Hypothesis found 500.0 against 500.0 and a bit).
    if b.value - a.value > 1e-6:
        assert a2.value > a.value
        assert b2.value < b.value


@given(value=values, da=deviations, db=deviations, va=volatilities, vb=volatilities)
def test_a_draw_between_equal_values_changes_neither_value(
    value: float, da: float, db: float, va: float, vb: float
) -> None:
    a, b = Rating(value, da, va), Rating(value, db, vb)
    a2, b2 = rate_game(a, b, 0.5)
    assert a2.value == pytest.approx(value, abs=1e-9)
    assert b2.value == pytest.approx(value, abs=1e-9)
    assert change(a, a2) == change(b, b2) == 0


@given(
    value=values,
    deviation=st.floats(min_value=111.0, max_value=350.0),
    volatility=st.floats(min_value=0.03, max_value=0.06),
    gap=st.floats(min_value=-500.0, max_value=500.0),
    opponent=deviations,
    score=scores,
)
def test_a_provisional_players_deviation_shrinks_after_a_game_within_500_points(
    value: float, deviation: float, volatility: float, gap: float, opponent: float, score: float
) -> None:
    player = Rating(value, deviation, volatility)
    after, _ = rate_game(player, Rating(value + gap, opponent, 0.06), score)
    assert after.deviation < deviation


@given(a=ratings, b=ratings, score=scores)
def test_rating_a_game_is_symmetric_in_its_players(a: Rating, b: Rating, score: float) -> None:
    a2, b2 = rate_game(a, b, score)
    b3, a3 = rate_game(b, a, 1.0 - score)
    assert (a2, b2) == (a3, b3)


@given(a=ratings, b=ratings, score=scores)
def test_rating_changes_are_ints_that_add_up_to_the_shown_values(
    a: Rating, b: Rating, score: float
) -> None:
    a2, b2 = rate_game(a, b, score)
    for before, after in ((a, a2), (b, b2)):
        assert isinstance(change(before, after), int)
        assert before.public.value + change(before, after) == after.public.value


# -- the public view -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "expected"), [(1463.5, 1464), (1463.49, 1463), (-0.5, 0), (110.5, 111), (0.0, 0)]
)
def test_shown_rounds_to_nearest_halves_up(x: float, expected: int) -> None:
    assert shown(x) == expected


@pytest.mark.parametrize(
    ("deviation", "provisional"), [(350.0, True), (110.5, True), (110.49, False), (60.0, False)]
)
def test_provisional_while_the_shown_deviation_is_over_110(
    deviation: float, provisional: bool
) -> None:
    public = Rating(1612.4, deviation, 0.06).public
    assert public.provisional is provisional
    assert public.to_json() == {
        "value": 1612,
        "deviation": shown(deviation),
        "provisional": provisional,
    }


def test_the_leaderboard_leaves_provisional_players_out_and_ranks_by_shown_value() -> None:
    settled = 80.0
    board = leaderboard(
        [
            ("newbie", new_rating()),
            ("bob", Rating(1600.4, settled, 0.06)),
            ("Ann", Rating(1599.6, settled, 0.06)),
            ("cy", Rating(1700.0, settled, 0.06)),
            ("dee", Rating(1800.0, 111.0, 0.06)),
        ]
    )
    assert [(name, public.value) for name, public in board] == [
        ("cy", 1700),
        ("Ann", 1600),
        ("bob", 1600),
    ]
