"""The bottom line of the terminal: a prompt and what is typed, within the terminal's width."""

from __future__ import annotations

import io
import re
import time

import pytest

from client.keys import RollKeys
from client.terminal import ROOM, Terminal, fit, width
from client.views import GameView
from protocol.rules import builtin_rules

PROMPT = "Round 1 · 118s left · your roll (1-9, a-f or a name): "


def test_wide_characters_take_two_columns_and_combining_marks_none() -> None:
    assert width("Rock") == 4
    assert width("石头") == 4
    assert width("e\u0301") == 1


def test_a_line_that_fits_is_drawn_as_it_is() -> None:
    assert fit("Round 1: ", "rock", 39) == "Round 1: rock"


def test_a_long_prompt_is_cut_to_leave_room_to_type() -> None:
    line = fit(PROMPT, "ro", 39)
    assert width(line) <= 39
    assert line == PROMPT[: 39 - ROOM - 1] + "…ro"


@pytest.mark.parametrize("typed", ["scissors" * 6, "石头" * 20])
def test_a_long_typed_line_shows_its_end(typed: str) -> None:
    line = fit("Round 1: ", typed, 39)
    assert line.startswith("Round 1: ")
    assert typed.endswith(line[len("Round 1: ") :])
    assert 37 <= width(line) <= 39


@pytest.mark.parametrize(
    ("columns", "prompt"),
    [
        (80, "Round 1 · Ns left · your roll (1-9, a-f or a name): "),
        (60, "Round 1 · Ns left · your roll: "),
        (40, "Round 1 · Ns · your roll: "),
        (30, "R1 Ns your roll: "),
    ],
)
def test_the_move_prompt_has_the_longest_wording_that_leaves_room_to_type(
    columns: int, prompt: str
) -> None:
    view = GameView(Terminal(out=io.StringIO(), inp=io.StringIO()), "ann", lambda rules: None)
    view.keys = RollKeys(builtin_rules()["rps15"].rolls)
    view.players, view.round = ["ann", "computer"], 1
    view.deadline = time.time() + 118.5  # three digits for a long while
    shown = view.prompt(columns)
    assert width(shown) <= columns - ROOM
    assert re.sub(r"\d+s", "Ns", shown) == prompt
