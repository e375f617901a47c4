"""The computer's levels: the reader beats habits, breaks even against chance, and only ever
sees earlier rounds."""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from typing import TypeAlias

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import reader
from protocol.errors import BadMessage
from protocol.game import COMPUTER, Round
from protocol.reader import (
    HISTORY_LIMIT,
    Seen,
    check_level,
    computer_roll,
    reader_roll,
    seen_in,
)
from protocol.rules import RuleSet, builtin_rules

RULES = builtin_rules()
RPS3 = RULES["rps3"]
RPS15 = RULES["rps15"]

Player: TypeAlias = Callable[[RuleSet, list[Seen]], str]


def first_beating(rules: RuleSet, roll: str) -> str:
    """The first roll in header order that beats ``roll``."""
    return next(r for r in rules.rolls if rules.outcome(r, roll) > 0)


def creature_of_habit(rules: RuleSet, history: list[Seen]) -> str:
    """Repeats a win; after a loss plays what would have beaten the computer's last roll; after
    a draw moves on to the next roll in the table's order."""
    if not history:
        return rules.rolls[0]
    mine, theirs = history[-1]
    assert mine is not None
    outcome = rules.outcome(mine, theirs)
    if outcome > 0:
        return mine
    if outcome < 0:
        return first_beating(rules, theirs)
    return rules.rolls[(rules.rolls.index(mine) + 1) % len(rules.rolls)]


def cycler(rules: RuleSet, history: list[Seen]) -> str:
    """Plays the table's rolls in order, round after round."""
    return rules.rolls[len(history) % len(rules.rolls)]


def sloppy(seed: int, noise: float) -> Player:
    """A creature of habit who plays at random ``noise`` of the time."""
    rng = random.Random(seed)

    def play(rules: RuleSet, history: list[Seen]) -> str:
        if rng.random() < noise:
            return rng.choice(rules.rolls)
        return creature_of_habit(rules, history)

    return play


def at_random(seed: int) -> Player:
    """Uniform random play from its own seeded source."""
    rng = random.Random(seed)
    return lambda rules, history: rng.choice(rules.rolls)


def share_of_decided(rules: RuleSet, player: Player, rounds: int, seed: int = 1) -> float:
    """The reader's share of the decided rounds against ``player``: the reader's roll for each
    round is chosen before the player's, from the rounds before it."""
    rng = random.Random(seed)
    history: list[Seen] = []
    won = lost = 0
    for _ in range(rounds):
        computer = reader_roll(rules, history, rng)
        mine = player(rules, history)
        outcome = rules.outcome(computer, mine)
        won += outcome > 0
        lost += outcome < 0
        history.append((mine, computer))
    return won / (won + lost)


# -- it reads habits ---------------------------------------------------------------------------


@pytest.mark.parametrize("rules", [RPS3, RPS15], ids=lambda r: r.name)
@pytest.mark.parametrize(
    "make_player",
    [lambda: creature_of_habit, lambda: cycler, lambda: sloppy(3, 0.3)],
    ids=["habit", "cycle", "habit-with-30%-noise"],
)
def test_the_reader_wins_at_least_60_percent_of_decided_rounds_against_a_habit(
    rules: RuleSet, make_player: Callable[[], Player]
) -> None:
    assert share_of_decided(rules, make_player(), 500) >= 0.60


@pytest.mark.parametrize("rules", [RPS3, RPS15], ids=lambda r: r.name)
def test_the_reader_breaks_even_against_uniform_random_play(rules: RuleSet) -> None:
    # 2,000 rounds: the share's standard deviation is under 0.014, so 0.06 is over 4 of them.
    assert share_of_decided(rules, at_random(7), 2000) == pytest.approx(0.5, abs=0.06)


# -- what it may see ---------------------------------------------------------------------------


def test_the_reader_is_given_no_move_for_the_round_it_chooses_for() -> None:
    assert list(inspect.signature(reader_roll).parameters) == ["rules", "history", "rng"]
    assert list(inspect.signature(computer_roll).parameters) == [
        "level",
        "rules",
        "history",
        "rng",
    ]


def history_for(rules: RuleSet) -> st.SearchStrategy[list[Seen]]:
    roll = st.sampled_from(rules.rolls)
    return st.lists(st.tuples(st.none() | roll, roll), max_size=300)


@given(data=st.data(), seed=st.integers(0, 2**32))
def test_the_reader_plays_a_roll_of_the_rules_as_a_function_of_history_and_randomness(
    data: st.DataObject, seed: int
) -> None:
    rules = data.draw(st.sampled_from([RPS3, RULES["rpsls"], RPS15]))
    history = data.draw(history_for(rules))
    roll = reader_roll(rules, history, random.Random(seed))
    assert roll in rules.rolls
    assert reader_roll(rules, list(history), random.Random(seed)) == roll


@given(seed=st.integers(0, 2**32), extra=st.integers(1, 300))
def test_the_reader_reads_only_the_last_200_rounds(seed: int, extra: int) -> None:
    rng = random.Random(seed)
    history: list[Seen] = [
        (rng.choice(RPS15.rolls), rng.choice(RPS15.rolls)) for _ in range(HISTORY_LIMIT + extra)
    ]
    assert reader_roll(RPS15, history, random.Random(seed)) == reader_roll(
        RPS15, history[-HISTORY_LIMIT:], random.Random(seed)
    )


def test_a_round_naming_a_roll_not_in_the_rules_is_skipped() -> None:
    history: list[Seen] = [("Rock", "Paper"), ("Paper", "Paper"), ("Rock", "Scissors")] * 5
    spoiled = [*history[:4], ("Spock", "Rock"), ("Rock", "Lizard"), *history[4:]]
    for seed in range(20):
        assert reader_roll(RPS3, spoiled, random.Random(seed)) == reader_roll(
            RPS3, history, random.Random(seed)
        )


def test_missed_moves_teach_nothing_but_do_not_break_the_reading() -> None:
    history: list[Seen] = [(None, "Rock"), ("Rock", "Rock"), (None, "Paper")] * 40
    rolls = {reader_roll(RPS3, history, random.Random(seed)) for seed in range(20)}
    assert rolls == {"Paper"}  # the player only ever played Rock


def test_with_nothing_to_go_on_the_reader_draws_uniformly() -> None:
    for seed in range(20):
        assert reader_roll(RPS15, [], random.Random(seed)) == random.Random(seed).choice(
            RPS15.rolls
        )


# -- levels ----------------------------------------------------------------------------------


def test_the_random_level_draws_as_the_game_always_has() -> None:
    history: list[Seen] = [("Rock", "Rock")] * 30
    for seed in range(20):
        assert computer_roll("random", RPS3, history, random.Random(seed)) == random.Random(
            seed
        ).choice(RPS3.rolls)


def test_the_reader_level_reads() -> None:
    history: list[Seen] = [("Rock", "Scissors")] * 30
    assert computer_roll("reader", RPS3, history, random.Random(1)) == "Paper"


def test_an_unknown_level_is_refused_by_computer_roll() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        computer_roll("hard", RPS3, [], random.Random(1))


@pytest.mark.parametrize(("value", "level"), [("random", "random"), ("Reader", "reader")])
def test_check_level_accepts_the_two_levels_in_any_case(value: str, level: str) -> None:
    assert check_level(value) == level


@pytest.mark.parametrize("value", ["hard", "", None, 1, True, ["reader"]])
def test_check_level_refuses_anything_else(value: object) -> None:
    with pytest.raises(BadMessage, match="field 'level' must be one of random, reader"):
        check_level(value)


def test_the_reader_names_the_computer_as_the_game_does() -> None:
    assert reader.COMPUTER == COMPUTER


def test_seen_in_takes_the_players_and_the_computers_rolls_of_each_round() -> None:
    rounds = [
        Round(round=1, moves={"ann": "Rock", COMPUTER: "Paper"}, winner=COMPUTER),
        Round(round=2, moves={"ann": None, COMPUTER: "Rock"}, winner=COMPUTER),
        Round(round=3, moves={"ann": "Paper", "bob": "Rock"}, winner="ann"),
    ]
    assert seen_in(rounds, "ann") == [("Rock", "Paper"), (None, "Rock")]
