"""Issue 11 in the terminal: ``play --wait``, a challenge accepted from ``rps-hub lobby`` and the
queue's pools there, a rematch with ``r`` after a game, ``--level``."""

from __future__ import annotations

from pathlib import Path

import pexpect

from tests.client.pty import AFTER_GAME, HubProcess, finish, move_when_asked, spawn, transcript

RPS3 = ["--best-of", "1", "--rules", "rps3"]
ANN_CHALLENGES_BOB = ["play", "--name", "ann", "--opponent", "bob", *RPS3]


def play_one_round(ann: pexpect.spawn, bob: pexpect.spawn) -> None:
    """A best of 1 that ann wins in its first round."""
    move_when_asked(ann, 1, "rock")
    move_when_asked(bob, 1, "scissors")
    ann.expect(r"You won the game: you 1-0 bob\.")
    bob.expect(r"ann won the game: you 0-1 ann\.")


def test_play_wait_accepts_the_first_challenge_that_comes(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    bob = spawn(["play", "--server", hub.url, "--name", "bob", "--wait"], tmp_path)
    children.append(bob)
    bob.expect("Waiting for a challenge, to accept it; 'quit' leaves.")
    ann = spawn(
        ["play", "--server", hub.url, "--name", "ann", "--opponent", "bob", *RPS3], tmp_path
    )
    children.append(ann)
    bob.expect(r"ann challenges you \(best of 1, rps3\): accepting\.")
    bob.expect(r"Game (\S+): bob vs ann · rps3 · best of 1")
    ann.expect(rf"Game {bob.match.group(1)}: ann vs bob")
    play_one_round(ann, bob)
    assert "Accept" not in transcript(bob)
    # A rated game: the record after it shows the rating and what the game changed of it.
    ann.expect(r"ann: 1 game, 1 won, 0 lost, 0 drawn; rounds 1 won, 0 lost\. ")
    ann.expect(r"Rating \d+ \(\+\d+, provisional\)\.")
    bob.expect(r"Rating \d+ \(-\d+, provisional\)\.")


def test_r_after_a_game_asks_the_other_player_for_a_rematch_and_a_yes_starts_it(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    bob = spawn(["play", "--server", hub.url, "--name", "bob", "--wait"], tmp_path)
    children.append(bob)
    bob.expect("Waiting for a challenge")
    ann = spawn(
        ["play", "--server", hub.url, "--name", "ann", "--opponent", "bob", *RPS3], tmp_path
    )
    children.append(ann)
    ann.expect(r"Game (\S+): ann vs bob")
    first = ann.match.group(1)
    play_one_round(ann, bob)
    ann.expect(AFTER_GAME)
    bob.expect(AFTER_GAME)

    ann.sendline("r")
    ann.expect("Asked bob for a rematch; waiting for an answer…")
    bob.expect(r"ann asks for a rematch \(best of 1, rps3\)\.")
    bob.expect(r"Accept ann's rematch\? \[y/n\]")
    bob.sendline("n")
    ann.expect("bob declined the rematch.")
    ann.expect(AFTER_GAME)  # the session stays: r may ask again

    ann.sendline("r")
    bob.expect(r"Accept ann's rematch\? \[y/n\]")
    bob.sendline("y")
    ann.expect(r"Game (\S+): ann vs bob · rps3 · best of 1")
    assert ann.match.group(1) != first
    play_one_round(ann, bob)
    ann.expect("ann: 2 games, 2 won")
    ann.expect(AFTER_GAME)
    ann.sendline("q")
    assert finish(ann) == 0


def test_r_against_the_computer_starts_the_next_game_at_once(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    ann = spawn(["play", "--server", hub.url, "--name", "ann", *RPS3], tmp_path)
    children.append(ann)
    ann.expect(r"Game (\S+): ann vs computer · rps3 · best of 1")
    first = ann.match.group(1)
    move_when_asked(ann, 1, "resign")
    ann.sendline("y")
    ann.expect(r"computer won the game")
    ann.expect(AFTER_GAME)
    ann.sendline("r")
    ann.expect(r"Game (\S+): ann vs computer · rps3 · best of 1")
    assert ann.match.group(1) != first
    move_when_asked(ann, 1, "rock")
    ann.expect("You play Rock.")


def test_level_reader_plays_the_computer_that_reads_habits(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    args = ["play", "--server", hub.url, "--name", "ann", "--level", "reader", *RPS3]
    ann = spawn(args, tmp_path)
    children.append(ann)
    ann.expect(r"Game \S+: ann vs computer \(reader\) · rps3 · best of 1")
    move_when_asked(ann, 1, "rock")
    ann.expect(r"Round 1: you Rock, computer \w+")


def test_a_challenge_accepted_in_the_lobby_is_played_there(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    bob = spawn(["play", "--server", hub.url, "--name", "bob", "--opponent", "*"], tmp_path)
    children.append(bob)
    bob.expect("Waiting for an opponent")
    bob.sendline("quit")
    assert finish(bob) == 0  # bob's token is saved: the lobby signs in with it

    lobby = spawn(["lobby", "--server", hub.url], tmp_path)
    children.append(lobby)
    lobby.expect("you are bob")
    ann = spawn([*ANN_CHALLENGES_BOB, "--server", hub.url], tmp_path / "ann")
    children.append(ann)
    lobby.expect(r"Accept ann's challenge \(best of 1, rps3\)\? \[y/n\]")
    lobby.sendline("y")
    lobby.expect(r"You have a live game, (\S+): resuming it\.")
    ann.expect(rf"Game {lobby.match.group(1)}: ann vs bob")
    lobby.expect(r"Game \S+: bob vs ann")
    play_one_round(ann, lobby)


def test_the_lobby_shows_who_waits_in_the_queue(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    lobby = spawn(["lobby", "--server", hub.url], tmp_path / "lobby")
    children.append(lobby)
    lobby.expect(r"Players \(0 active\)")
    args = ["play", "--server", hub.url, "--name", "bob", "--opponent", "*", "--rules", "rps3"]
    bob = spawn([*args, "--best-of", "3"], tmp_path)
    children.append(bob)
    lobby.expect(r"Queue: 1 for rps3 best of 3")
    bob.sendline("quit")
    bob.expect(r"Left the queue\.")
    lobby.expect(r"\(none\)\s+Leaders")  # no Queue line once the pool is empty


def test_level_is_refused_against_a_player(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    args = ["play", "--server", hub.url, "--name", "ann", "--opponent", "bob", "--level", "reader"]
    ann = spawn(args, tmp_path)
    children.append(ann)
    ann.expect("rps-hub: --level is for a game against the computer")
    assert finish(ann) == 2
