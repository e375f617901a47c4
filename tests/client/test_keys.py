"""Roll keys: what the player types becomes a roll, or a message that says what to type."""

from __future__ import annotations

import pytest

from client.errors import ClientError
from client.keys import RollKeys
from protocol.rules import builtin_rules

RPS15 = builtin_rules()["rps15"].rolls


def test_the_fifteen_rolls_get_keys_one_to_nine_then_a_to_f() -> None:
    keys = RollKeys(RPS15)
    assert list(keys.keys) == [*"123456789abcdef"]
    assert (keys.keys["1"], keys.keys["f"]) == ("Rock", "Fire")
    assert keys.key_range == "1-9, a-f"


@pytest.mark.parametrize(
    ("typed", "roll"),
    [
        ("1", "Rock"),
        ("F", "Fire"),
        ("rock", "Rock"),
        ("  LIGHTNING ", "Lightning"),
        ("dev", "Devil"),
        ("sn", "Snake"),
    ],
)
def test_a_roll_is_read_from_its_key_its_name_in_any_case_or_a_unique_prefix(
    typed: str, roll: str
) -> None:
    assert RollKeys(RPS15).resolve(typed) == roll


def test_a_prefix_shared_by_several_rolls_asks_for_more_letters() -> None:
    with pytest.raises(ClientError) as caught:
        RollKeys(RPS15).resolve("s")
    assert caught.value.code == "bad_request"
    assert caught.value.message == "'s' could be Sponge, Snake, Scissors; type more letters"


def test_an_unknown_roll_says_which_keys_to_use() -> None:
    with pytest.raises(ClientError) as caught:
        RollKeys(RPS15).resolve("xyzzy")
    assert caught.value.message == (
        "'xyzzy' is not a roll; type a key (1-9, a-f), a roll's name, or help"
    )


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("Rok", "Rock"),
        ("sissors", "Scissors"),
        ("LIGTNING", "Lightning"),
        ("snek", "Snake or Sponge"),
    ],
)
def test_a_typo_asks_whether_the_player_meant_the_closest_rolls(typed: str, meant: str) -> None:
    with pytest.raises(ClientError) as caught:
        RollKeys(RPS15).resolve(typed)
    assert caught.value.message == f"{typed!r} is not a roll; did you mean {meant}?"


def test_the_rules_say_what_each_roll_beats_within_the_width() -> None:
    table = builtin_rules()["rpsls"]
    keys = RollKeys(table.rolls, {roll: table.beaten_by(roll) for roll in table.rolls})
    assert keys.rules() == [
        "1 Rock     beats Scissors, Lizard",
        "2 Paper    beats Rock, Spock",
        "3 Scissors beats Paper, Lizard",
        "4 Lizard   beats Paper, Spock",
        "5 Spock    beats Rock, Scissors",
    ]
    rps15 = builtin_rules()["rps15"]
    wide = RollKeys(rps15.rolls, {roll: rps15.beaten_by(roll) for roll in rps15.rolls})
    lines = wide.rules(38)
    assert all(len(line) < 38 for line in lines)
    assert lines[:3] == [
        "1 Rock      beats Sponge, Wolf, Tree,",
        "            Human, Snake, Scissors,",
        "            Fire",
    ]


def test_the_menu_of_fifteen_rolls_fits_an_80_column_terminal_in_three_lines() -> None:
    menu = RollKeys(RPS15).menu(80)
    assert len(menu) == 3
    assert all(len(line) <= 80 for line in menu)
    assert menu[0].split() == ["1", "Rock", "4", "Devil", "7", "Air", "a", "Wolf", "d", "Snake"]
