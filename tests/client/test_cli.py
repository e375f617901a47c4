"""The terminal client in a pseudo-terminal against a hub running as its own process."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pexpect

from tests.client.pty import (
    GAME_OVER,
    HubProcess,
    finish,
    move_when_asked,
    quit_after_game,
    spawn,
    transcript,
)


def rounds_shown(text: str, who: str = "you") -> list[int]:
    return [int(n) for n in re.findall(rf"Round (\d+): {who} ", text)]


def test_the_cli_plays_a_game_against_the_computer_to_its_end(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    ann = spawn(["play", "--server", hub.url, "--name", "ann", "--best-of", "3"], tmp_path)
    children.append(ann)
    ann.expect("Registered ann")
    ann.expect(r"1 Rock\s+4 Devil")
    rolls = ["rock", "2", "PAPER", "f"]
    played = 0
    while True:
        index = ann.expect([r"Round (\d+) · [^\r\n]*your roll", GAME_OVER])
        if index == 1:
            break
        if int(ann.match.group(1)) > played:
            played += 1
            ann.sendline(rolls[played % len(rolls)])
    ann.expect(r"ann: 1 game, \d+ won, \d+ lost, \d+ drawn")
    assert quit_after_game(ann) == 0
    assert rounds_shown(transcript(ann)) == list(range(1, played + 1))


def test_a_bad_roll_is_explained_and_the_player_types_again(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    ann = spawn(["play", "--server", hub.url, "--name", "ann", "--best-of", "1"], tmp_path)
    children.append(ann)
    move_when_asked(ann, 1, "Rok")
    ann.expect("'Rok' is not a roll; did you mean Rock\\?")
    ann.sendline("s")
    ann.expect("'s' could be Sponge, Snake, Scissors; type more letters")
    ann.sendline("sponge")
    ann.expect("You play Sponge.")
    ann.expect(r"Round 1: you Sponge, computer \w+")


def test_two_players_play_each_other_while_watch_shows_every_round(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    common = ["--server", hub.url, "--best-of", "3", "--rules", "rps3"]
    bob = spawn(["play", "--name", "bob", "--opponent", "*", *common], tmp_path)
    children.append(bob)
    bob.expect("Waiting for an opponent")
    ann = spawn(["play", "--name", "ann", "--opponent", "bob", *common], tmp_path)
    children.append(ann)
    ann.expect("Challenged bob")
    bob.expect(r"ann challenges you \(best of 3, rps3\)")
    bob.expect(r"Accept ann's challenge\? \[y/n\]")
    bob.sendline("y")
    ann.expect(r"Game (\S+): ann vs bob · rps3 · best of 3")
    game = ann.match.group(1)
    watch = spawn(["watch", game, "--server", hub.url], tmp_path)
    children.append(watch)
    watch.expect(f"Game {game}: ann vs bob")
    watch.expect("Round 1 is open")

    for number, (mine, theirs) in enumerate([("rock", "rock"), ("rock", "3"), ("1", "paper")], 1):
        move_when_asked(ann, number, mine)
        move_when_asked(bob, number, theirs)
    watch.expect(r"Round 1: ann Rock, bob Rock — a tie\. ann 0-0 bob")
    watch.expect(r"Round 2: ann Rock, bob Scissors — ann wins the round\. ann 1-0 bob")
    watch.expect(r"Round 3: ann Rock, bob Paper — bob wins the round\. ann 1-1 bob")
    move_when_asked(ann, 4, "paper")
    move_when_asked(bob, 4, "rock")
    watch.expect(r"Round 4: ann Paper, bob Rock — ann wins the round\. ann 2-1 bob")
    watch.expect(r"ann won the game: ann 2-1 bob\.")
    assert finish(watch) == 0
    ann.expect(r"You won the game: you 2-1 bob\.")
    bob.expect(r"ann won the game: you 1-2 ann\.")
    ann.expect("ann: 1 game, 1 won, 0 lost")
    bob.expect("bob: 1 game, 0 won, 1 lost")
    assert quit_after_game(ann) == 0
    assert quit_after_game(bob) == 0


def test_a_game_goes_on_without_a_lost_round_after_the_hub_restarts_mid_game(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    args = ["play", "--server", hub.url, "--name", "ann", "--best-of", "5", "--rules", "rps3"]
    ann = spawn(args, tmp_path)
    children.append(ann)
    move_when_asked(ann, 1, "rock")
    ann.expect(r"Round 1: you Rock")
    ann.expect(r"Round 2 · [^\r\n]*your roll")
    hub.stop()
    ann.expect(r"connection lost \(code 1001[^)]*\); reconnecting")
    ann.sendline("paper")  # typed while the hub is down: it goes out once the client is back
    ann.expect("You play Paper.")
    hub.start()
    ann.expect("reconnected; catching up")
    ann.expect(r"Round 2: you Paper, computer \w+")
    played = 2
    while True:
        index = ann.expect([r"Round (\d+) · [^\r\n]*your roll", GAME_OVER])
        if index == 1:
            break
        if int(ann.match.group(1)) > played:
            played += 1
            ann.sendline("scissors")
    assert quit_after_game(ann) == 0
    assert rounds_shown(transcript(ann)) == list(range(1, played + 1))


def test_a_wrong_server_address_is_one_readable_line_and_exit_status_2(
    tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    ann = spawn(["play", "--server", "http://127.0.0.1:9", "--name", "ann"], tmp_path)
    children.append(ann)
    ann.expect(r"rps-hub: cannot reach the hub at http://127\.0\.0\.1:9: connection refused")
    assert finish(ann) == 2


def test_a_name_taken_by_someone_else_is_one_readable_line_and_exit_status_1(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    first = spawn(["play", "--server", hub.url, "--name", "ann"], tmp_path / "first")
    children.append(first)
    first.expect("Registered ann")
    other = spawn(["play", "--server", hub.url, "--name", "ANN"], tmp_path / "second")
    children.append(other)
    other.expect(r"rps-hub: the name 'ANN' is taken on http://127\.0\.0\.1:\d+; pick another")
    assert finish(other) == 1


def test_the_lobby_follows_players_live_games_and_leaders_as_they_change(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    lobby = spawn(["lobby", "--server", hub.url], tmp_path)
    children.append(lobby)
    lobby.expect(r"Players \(0 active\)")
    lobby.expect(r"\(no finished games yet\)")
    ann = spawn(["play", "--server", hub.url, "--name", "ann", "--best-of", "1"], tmp_path)
    children.append(ann)
    lobby.expect(r"Players \(1 active\)[^\n]*\n\s+ann\s+playing")
    lobby.expect(r"Live games \(1\)[^\n]*\n\s+\S+\s+ann 0-0 computer · rps15 · best of 1")
    played = 0
    while True:
        index = ann.expect([r"Round (\d+) · [^\r\n]*your roll", GAME_OVER])
        if index == 1:
            break
        if int(ann.match.group(1)) > played:
            played += 1
            ann.sendline("rock")
    assert quit_after_game(ann) == 0
    lobby.expect(r"Leaders[^\n]*\n\s+1\. ann\s+(?:0 wins|1 win) in 1 game(?!s)")
    lobby.sendline("q")
    assert finish(lobby) == 0


def test_json_mode_prints_each_event_as_one_json_line(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    args = ["play", "--server", hub.url, "--name", "ann", "--best-of", "1", "--json"]
    ann = spawn(args, tmp_path)
    children.append(ann)
    for _ in range(50):
        index = ann.expect(['"event": "round_open"', '"type": "record"'])
        if index == 1:
            break
        ann.sendline("rock")
    assert finish(ann) == 0
    lines = [line for line in transcript(ann).splitlines() if line.startswith("{")]
    items = [json.loads(line) for line in lines]
    assert items[0]["event"] == "game_started"
    assert [i["event"] for i in items if i["type"] == "event"][-1] == "game_over"
    assert items[-1]["type"] == "record"
    assert "\x1b" not in "".join(lines)


def test_a_declined_challenge_ends_the_challengers_session_with_exit_status_1(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    bob = spawn(["play", "--server", hub.url, "--name", "bob", "--opponent", "*"], tmp_path)
    children.append(bob)
    bob.expect("Waiting for an opponent")
    ann = spawn(["play", "--server", hub.url, "--name", "ann", "--opponent", "bob"], tmp_path)
    children.append(ann)
    bob.expect(r"Accept ann's challenge\? \[y/n\]")
    bob.sendline("maybe")
    bob.expect("Answer y or n.")
    bob.sendline("n")
    bob.expect("Declined ann's challenge.")
    ann.expect("rps-hub: bob declined your challenge")
    assert finish(ann) == 1
