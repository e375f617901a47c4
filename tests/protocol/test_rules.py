"""Rule sets: the shipped tables, the CSV loader and its refusals."""

from __future__ import annotations

from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import InvalidRuleTable, UnknownRoll
from protocol.rules import BUILTIN, DEFAULT_RULES, RuleSet, builtin_rules, parse_table

RPS15_ROLLS = (
    "Rock",
    "Gun",
    "Lightning",
    "Devil",
    "Dragon",
    "Water",
    "Air",
    "Paper",
    "Sponge",
    "Wolf",
    "Tree",
    "Human",
    "Snake",
    "Scissors",
    "Fire",
)

RPSLS_WINS = {
    ("Scissors", "Paper"),
    ("Paper", "Rock"),
    ("Rock", "Lizard"),
    ("Lizard", "Spock"),
    ("Spock", "Scissors"),
    ("Scissors", "Lizard"),
    ("Lizard", "Paper"),
    ("Paper", "Spock"),
    ("Spock", "Rock"),
    ("Rock", "Scissors"),
}

INCONSISTENT_PAIRS = [
    "Tree vs Human",
    "Tree vs Snake",
    "Tree vs Scissors",
    "Tree vs Fire",
    "Human vs Snake",
    "Human vs Scissors",
    "Human vs Fire",
    "Snake vs Scissors",
    "Snake vs Fire",
]


def table_csv(rolls: list[str], cell: dict[tuple[str, str], str], newline: str = "\n") -> str:
    """A battle table in the course's CSV format."""
    lines = [",".join(["Attacker", *rolls])]
    lines += [",".join([a, *(cell[(a, b)] for b in rolls)]) for a in rolls]
    return newline.join(lines)


def rps3_cells() -> dict[tuple[str, str], str]:
    """The classic table's cells, to be spoiled by the malformed-table tests."""
    rules = builtin_rules()["rps3"]
    return {
        (a, b): "draw" if a == b else "win" if rules.outcome(a, b) > 0 else "lose"
        for a in rules.rolls
        for b in rules.rolls
    }


def packaged(name: str) -> str:
    return (resources.files("protocol") / "data" / name).read_text("utf-8")


# -- the shipped tables ----------------------------------------------------------------------


def test_the_default_rule_set_is_rps15() -> None:
    assert DEFAULT_RULES == "rps15"
    assert set(builtin_rules()) == {"rps15", "rps3", "rpsls"}


def test_rps15_has_fifteen_rolls_in_header_order() -> None:
    assert builtin_rules()["rps15"].rolls == RPS15_ROLLS


def test_rps3_has_three_rolls_in_header_order() -> None:
    assert builtin_rules()["rps3"].rolls == ("Rock", "Paper", "Scissors")


def test_rpsls_has_five_rolls_in_header_order() -> None:
    assert builtin_rules()["rpsls"].rolls == ("Rock", "Paper", "Scissors", "Lizard", "Spock")


def test_each_builtin_rule_set_carries_its_name() -> None:
    assert {name: rules.name for name, rules in builtin_rules().items()} == {
        "rps15": "rps15",
        "rps3": "rps3",
        "rpsls": "rpsls",
    }


def test_rps15_roll_i_beats_roll_j_exactly_when_i_minus_j_mod_15_is_1_to_7() -> None:
    rules = builtin_rules()["rps15"]
    for i, a in enumerate(rules.rolls):
        for j, b in enumerate(rules.rolls):
            expected = 0 if i == j else 1 if (i - j) % 15 in range(1, 8) else -1
            assert rules.outcome(a, b) == expected, (a, b)


def test_rpsls_has_the_ten_well_known_wins() -> None:
    rules = builtin_rules()["rpsls"]
    wins = {(a, b) for a in rules.rolls for b in rules.rolls if rules.outcome(a, b) == 1}
    assert wins == RPSLS_WINS


def test_rps3_rock_beats_scissors_beats_paper_beats_rock() -> None:
    rules = builtin_rules()["rps3"]
    assert rules.beaten_by("Rock") == ["Scissors"]
    assert rules.beaten_by("Scissors") == ["Paper"]
    assert rules.beaten_by("Paper") == ["Rock"]


@pytest.mark.parametrize("name", ["rps15", "rps3", "rpsls"])
def test_every_shipped_table_is_a_regular_tournament(name: str) -> None:
    rules = builtin_rules()[name]
    n = len(rules.rolls)
    for a in rules.rolls:
        assert rules.outcome(a, a) == 0
        assert len(rules.beaten_by(a)) == (n - 1) // 2
        for b in rules.rolls:
            assert rules.outcome(a, b) == -rules.outcome(b, a)


@given(data=st.data())
def test_outcome_is_antisymmetric_for_any_two_rolls_of_any_shipped_table(
    data: st.DataObject,
) -> None:
    rules = data.draw(st.sampled_from(sorted(builtin_rules().values(), key=lambda r: r.name)))
    a = data.draw(st.sampled_from(rules.rolls))
    b = data.draw(st.sampled_from(rules.rolls))
    assert rules.outcome(a, b) == -rules.outcome(b, a)
    assert (rules.outcome(a, b) == 0) == (a == b)


def test_to_json_lists_rolls_and_beats_in_header_order() -> None:
    rules = builtin_rules()["rps3"]
    assert rules.to_json() == {
        "rolls": ["Rock", "Paper", "Scissors"],
        "beats": {"Rock": ["Scissors"], "Paper": ["Rock"], "Scissors": ["Paper"]},
    }


def test_rps15_beats_lists_follow_header_order() -> None:
    rules = builtin_rules()["rps15"]
    assert rules.beaten_by("Rock") == list(RPS15_ROLLS[8:])


# -- canonical spelling ----------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["rock", "ROCK", "  Rock ", "\trOcK\n"])
def test_canonical_ignores_case_and_surrounding_spaces(spelling: str) -> None:
    assert builtin_rules()["rps15"].canonical(spelling) == "Rock"


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_canonical_spells_every_roll_of_a_table_as_the_table_does(name: str) -> None:
    rules = builtin_rules()[name]
    for roll in rules.rolls:
        for spelling in (roll, roll.upper(), roll.lower(), f" {roll.swapcase()}\t"):
            assert rules.canonical(spelling) == roll


def test_canonical_rejects_an_unknown_roll_with_unknown_roll() -> None:
    with pytest.raises(UnknownRoll) as info:
        builtin_rules()["rps3"].canonical("Rok")
    assert info.value.code == "bad_request"


def test_unknown_roll_message_names_the_roll_the_rule_set_and_every_roll() -> None:
    with pytest.raises(UnknownRoll) as info:
        builtin_rules()["rps3"].canonical("Rok")
    assert info.value.message == "roll 'Rok' is not in rps3; try one of Rock, Paper, Scissors"


def test_canonical_does_not_match_inner_spaces() -> None:
    with pytest.raises(UnknownRoll):
        builtin_rules()["rps3"].canonical("Ro ck")


def test_rolls_of_one_table_are_unknown_in_another() -> None:
    with pytest.raises(UnknownRoll):
        builtin_rules()["rps3"].canonical("Spock")


# -- refusing bad tables ---------------------------------------------------------------------


def test_the_inconsistent_course_table_names_exactly_its_nine_bad_pairs() -> None:
    with pytest.raises(InvalidRuleTable) as info:
        parse_table(packaged("battle-table-inconsistent.csv"), "bad")
    assert info.value.bad_pairs == INCONSISTENT_PAIRS


def test_the_inconsistent_course_table_message_lists_the_pairs() -> None:
    with pytest.raises(InvalidRuleTable) as info:
        parse_table(packaged("battle-table-inconsistent.csv"), "bad")
    assert info.value.message.startswith("9 contradictory pair(s): Tree vs Human, ")
    assert info.value.code == "bad_request"


def test_the_shipped_rps15_file_uses_cr_only_line_endings_and_parses() -> None:
    raw = (resources.files("protocol") / "data" / "battle-table.csv").read_bytes()
    assert b"\r" in raw and b"\n" not in raw
    text = raw.decode()
    assert parse_table(text, "rps15") == builtin_rules()["rps15"]


def test_a_table_with_crlf_line_endings_parses_like_lf() -> None:
    rolls = ["Rock", "Paper", "Scissors"]
    cells = rps3_cells()
    assert parse_table(table_csv(rolls, cells, "\r\n"), "x") == parse_table(
        table_csv(rolls, cells), "x"
    )


def test_a_table_with_a_missing_cell_is_refused() -> None:
    lines = table_csv(["Rock", "Paper", "Scissors"], rps3_cells()).split("\n")
    lines[2] = lines[2].rsplit(",", 1)[0]
    with pytest.raises(InvalidRuleTable) as info:
        parse_table("\n".join(lines), "x")
    assert "row 'Paper' has 2 cells, expected 3" in info.value.message


def test_a_table_with_a_duplicate_roll_is_refused() -> None:
    text = "Attacker,Rock,Paper,rock\nRock,draw,lose,draw\nPaper,win,draw,win\nrock,draw,lose,draw"
    with pytest.raises(InvalidRuleTable) as info:
        parse_table(text, "x")
    assert "roll 'rock' appears twice in the header" in info.value.message


def test_a_table_whose_diagonal_is_not_draw_names_that_roll_against_itself() -> None:
    cells = rps3_cells()
    cells[("Paper", "Paper")] = "win"
    with pytest.raises(InvalidRuleTable) as info:
        parse_table(table_csv(["Rock", "Paper", "Scissors"], cells), "x")
    assert info.value.bad_pairs == ["Paper vs Paper"]


def test_a_table_with_an_unknown_cell_word_names_the_pair() -> None:
    cells = rps3_cells()
    cells[("Scissors", "Rock")] = "maybe"
    with pytest.raises(InvalidRuleTable) as info:
        parse_table(table_csv(["Rock", "Paper", "Scissors"], cells), "x")
    assert info.value.bad_pairs == ["Rock vs Scissors"]


def test_a_table_whose_rows_do_not_match_the_header_is_refused() -> None:
    text = "Attacker,Rock,Paper\nRock,draw,lose\nStone,win,draw"
    with pytest.raises(InvalidRuleTable) as info:
        parse_table(text, "x")
    assert "the row names do not match the header's rolls" in info.value.message


def test_an_empty_table_is_refused() -> None:
    with pytest.raises(InvalidRuleTable) as info:
        parse_table("", "x")
    assert info.value.bad_pairs == []


def test_cell_words_are_read_ignoring_case_and_spaces() -> None:
    text = "Attacker, Rock , Paper\nRock, DRAW ,Lose\nPaper,Win,draw"
    rules = parse_table(text, "x")
    assert rules.rolls == ("Rock", "Paper")
    assert rules.outcome("Paper", "Rock") == 1


# -- generated tournaments -------------------------------------------------------------------


@st.composite
def tournaments(draw: st.DrawFn) -> tuple[list[str], dict[tuple[str, str], str]]:
    """A random valid table: distinct roll names and a random winner for every pair."""
    names = draw(
        st.lists(
            st.text(
                alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_",
                min_size=1,
                max_size=8,
            ),
            min_size=1,
            max_size=9,
            unique_by=str.casefold,
        )
    )
    cells: dict[tuple[str, str], str] = {}
    for i, a in enumerate(names):
        cells[(a, a)] = "draw"
        for b in names[i + 1 :]:
            a_wins = draw(st.booleans())
            cells[(a, b)] = "win" if a_wins else "lose"
            cells[(b, a)] = "lose" if a_wins else "win"
    return names, cells


@settings(max_examples=150)
@given(tournaments())
def test_a_generated_tournament_round_trips_through_a_cr_only_csv(
    table: tuple[list[str], dict[tuple[str, str], str]],
) -> None:
    rolls, cells = table
    rules = parse_table(table_csv(rolls, cells, "\r"), "gen")
    assert rules.rolls == tuple(rolls)
    for a in rolls:
        for b in rolls:
            expected = {"win": 1, "lose": -1, "draw": 0}[cells[(a, b)]]
            assert rules.outcome(a, b) == expected


@settings(max_examples=150)
@given(table=tournaments(), data=st.data())
def test_flipping_one_cell_of_a_tournament_names_exactly_that_pair(
    table: tuple[list[str], dict[tuple[str, str], str]], data: st.DataObject
) -> None:
    rolls, cells = table
    i = data.draw(st.integers(0, len(rolls) - 1))
    j = data.draw(st.integers(0, len(rolls) - 1))
    a, b = rolls[i], rolls[j]
    old = cells[(a, b)]
    cells[(a, b)] = data.draw(st.sampled_from([w for w in ("win", "lose", "draw") if w != old]))
    with pytest.raises(InvalidRuleTable) as info:
        parse_table(table_csv(rolls, cells, "\r"), "gen")
    first, second = sorted((i, j))
    assert info.value.bad_pairs == [f"{rolls[first]} vs {rolls[second]}"]


def test_rule_sets_compare_by_value() -> None:
    text = table_csv(["Rock", "Paper", "Scissors"], rps3_cells())
    assert parse_table(text, "rps3") == builtin_rules()["rps3"]
    assert isinstance(builtin_rules()["rps3"], RuleSet)
