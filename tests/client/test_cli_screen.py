"""What the terminal client keeps on the screen: a countdown that fits a narrow terminal, and a
lobby whose leaderboard is fetched again after the hub restarts."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect

from tests.client.pty import (
    HubProcess,
    bottom_lines,
    finish,
    play_to_the_end,
    quit_after_game,
    spawn,
    transcript,
)

NARROW = 40


def next_tick(child: pexpect.spawn, second: str) -> str:
    """Wait until the countdown of round 1 shows another second than ``second``; that one."""
    child.expect(rf"Round 1 · (?!{second}s)(\d+)s")
    return str(child.match.group(1))


def too_wide(text: str) -> list[str]:
    return [line for line in bottom_lines(text) if len(line) >= NARROW]


def test_the_countdown_stays_on_the_bottom_line_of_a_40_column_terminal(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    args = ["play", "--server", hub.url, "--name", "ann", "--best-of", "1"]
    ann = spawn(args, tmp_path, columns=NARROW)
    children.append(ann)
    ann.expect(r"Round 1 · (\d+)s")
    next_tick(ann, next_tick(ann, ann.match.group(1)))
    ann.sendline(" " * 12 + "scissor")  # a unique prefix, typed past the line's end
    ann.expect("You play Scissors.")
    play_to_the_end(ann, "rock")
    assert quit_after_game(ann) == 0
    text = transcript(ann)
    assert too_wide(text) == []
    lines = text.replace("\x1b[K", "").splitlines()
    menu = [line for line in lines if re.match(r"\s*1 Rock ", line)]
    assert menu and all(len(line) <= NARROW for line in menu), menu


def test_the_prompt_is_shortened_when_the_terminal_narrows(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    ann = spawn(["play", "--server", hub.url, "--name", "ann", "--best-of", "1"], tmp_path)
    children.append(ann)
    ann.expect(r"Round 1 · \d+s left · your roll \(1-9, a-f or a name\): ")
    ann.setwinsize(24, NARROW)  # SIGWINCH
    ann.expect(r"Round 1 · (\d+)s · your roll: ")
    narrowed = len(transcript(ann)) - len(ann.buffer)
    next_tick(ann, ann.match.group(1))
    assert too_wide(transcript(ann)[narrowed:]) == []


def test_the_lobby_shows_the_leaders_of_games_that_ended_while_it_was_away(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    lobby = spawn(["lobby", "--server", hub.url], tmp_path)
    children.append(lobby)
    lobby.expect(r"\(no finished games yet\)")
    hub.stop()
    lobby.expect("reconnecting…")

    # Meanwhile another hub on the same database records a game...
    other = HubProcess(tmp_path)
    other.start()
    try:
        ann = spawn(["play", "--server", other.url, "--name", "ann", "--best-of", "1"], tmp_path)
        children.append(ann)
        assert play_to_the_end(ann) >= 1
        assert quit_after_game(ann) == 0
    finally:
        other.stop()

    # ...and the lobby's hub comes back on its port: the lobby must show that game's player.
    hub.start()
    lobby.expect(r"Leaders[^\n]*\n\s+1\. ann\s+(?:0 wins|1 win) in 1 game(?!s)", timeout=60)
    lobby.sendline("q")
    assert finish(lobby) == 0
