"""What the player types at the terminal client's prompts: help, typos, resigning, leaving."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from client.keys import KEY_CHARS
from protocol.rules import builtin_rules
from tests.client.pty import (
    ROOT,
    TIMEOUT,
    HubProcess,
    finish,
    move_when_asked,
    play_to_the_end,
    quit_after_game,
    spawn,
    transcript,
)


@pytest.mark.parametrize(("rules", "typed"), [("rps3", "help"), ("rpsls", "?"), ("rps15", "HELP")])
def test_help_at_the_move_prompt_says_what_each_roll_beats(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn], rules: str, typed: str
) -> None:
    args = ["play", "--server", hub.url, "--name", "ann", "--best-of", "1", "--rules", rules]
    ann = spawn(args, tmp_path)
    children.append(ann)
    move_when_asked(ann, 1, typed)
    table = builtin_rules()[rules]
    for key, roll in zip(KEY_CHARS, table.rolls, strict=False):
        beaten = ", ".join(table.beaten_by(roll))
        ann.expect(rf"{key} {roll} +beats {re.escape(beaten)}\r\n")
    ann.expect(r"Round 1 · [^\r\n]*your roll")
    ann.sendline("1")
    ann.expect(f"You play {table.rolls[0]}.")
    assert "is not a roll" not in transcript(ann)


def test_a_typo_gets_a_did_you_mean_and_a_unique_prefix_still_plays(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    ann = spawn(["play", "--server", hub.url, "--name", "ann", "--best-of", "1"], tmp_path)
    children.append(ann)
    move_when_asked(ann, 1, "sissors")
    ann.expect(r"'sissors' is not a roll; did you mean Scissors\?")
    ann.sendline("LIGTNING")
    ann.expect(r"'LIGTNING' is not a roll; did you mean Lightning\?")
    ann.sendline("xyzzy")
    ann.expect(r"'xyzzy' is not a roll; type a key \(1-9, a-f\), a roll's name, or help")
    ann.sendline("sc")
    ann.expect("You play Scissors.")


def test_resigning_asks_first_and_no_plays_on(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    args = ["play", "--server", hub.url, "--name", "ann", "--best-of", "3", "--rules", "rps3"]
    ann = spawn(args, tmp_path)
    children.append(ann)
    move_when_asked(ann, 1, "resign")
    ann.expect(r"Resign game \S+\? \[y/N\] ")
    ann.sendline("")
    ann.expect("You play on.")
    move_when_asked(ann, 1, "/resign")
    ann.expect(r"Resign game \S+\? \[y/N\] ")
    ann.sendline("y")
    ann.expect(r"computer won the game: you 0-0 computer \(you resigned\)\.")
    assert quit_after_game(ann) == 0
    assert not re.search(r"You play (Rock|Paper|Scissors)", transcript(ann))


def test_leaving_the_queue_says_so_and_mentions_no_game(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    args = ["play", "--server", hub.url, "--name", "bob", "--opponent", "*", "--rules", "rps3"]
    bob = spawn(args, tmp_path)
    children.append(bob)
    bob.expect("Waiting for an opponent")
    bob.sendline("quit")
    bob.expect(r"Left the queue\.")
    assert finish(bob) == 0
    assert "live game" not in transcript(bob)

    # Nobody is queued any more: a second player's `*` waits instead of starting a game with bob.
    ann = spawn(["play", "--server", hub.url, "--name", "ann", "--opponent", "*"], tmp_path)
    children.append(ann)
    ann.expect("Waiting for an opponent")
    ann.sendcontrol("d")
    ann.expect(r"End of input: left the queue\.")
    assert finish(ann) == 1


def test_a_game_played_to_its_end_after_help_and_a_typo(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    args = ["play", "--server", hub.url, "--name", "ann", "--best-of", "1", "--rules", "rps3"]
    ann = spawn(args, tmp_path)
    children.append(ann)
    move_when_asked(ann, 1, "?")
    ann.expect(r"3 Scissors +beats Paper")
    ann.sendline("papr")
    ann.expect(r"did you mean Paper\?")
    assert play_to_the_end(ann, "paper") >= 1
    ann.expect(r"ann: 1 game, ")
    assert quit_after_game(ann) == 0


def test_piped_input_resigns_with_y_and_waits_for_the_game_to_end(
    hub: HubProcess, tmp_path: Path
) -> None:
    args = ["play", "--server", hub.url, "--name", "ann", "--best-of", "3", "--rules", "rps3"]
    env = dict(os.environ, RPS_HUB_CONFIG_DIR=str(tmp_path), NO_COLOR="1")
    done = subprocess.run(
        [sys.executable, "-m", "hub", *args],
        input="resign\ny\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=TIMEOUT,
        check=False,
    )
    assert re.search(r"Resign game \S+\? \[y/N\]", done.stdout)
    assert "computer won the game: you 0-0 computer (you resigned)." in done.stdout
    assert "goes on" not in done.stdout
    assert done.returncode == 0, done.stderr
