"""``rps-hub login`` and ``logout``: one player on two devices (two token stores), against a hub
process."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect

from client.tokens import TokenStore
from hub.cli import build_parser
from tests.client.pty import HubProcess, finish, spawn, transcript

TOKEN = r"[A-Za-z0-9_-]{43}"


def test_login_prints_a_token_that_another_device_saves_and_plays_with(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    ann = spawn(["play", "--server", hub.url, "--name", "ann", "--opponent", "*"], first)
    children.append(ann)
    ann.expect("Registered ann")
    ann.expect("Waiting for an opponent")
    ann.sendline("quit")
    assert finish(ann) == 0
    mine = TokenStore(first).get(hub.url, "ann")

    give = spawn(["login", "--server", hub.url], first)
    children.append(give)
    give.expect(rf"A token for ann on {re.escape(hub.url)}, for another device:\r\n({TOKEN})\r\n")
    token = give.match.group(1)
    give.expect(f"There, type: rps-hub login TOKEN --server {re.escape(hub.url)}")
    assert finish(give) == 0
    assert token != mine

    take = spawn(["login", token, "--server", hub.url], second)
    children.append(take)
    take.expect(f"Signed in as ann on {re.escape(hub.url)}")
    assert finish(take) == 0
    assert TokenStore(second).get(hub.url, "ann") == token
    assert TokenStore(first).get(hub.url, "ann") == mine  # the first device keeps its own

    other = spawn(["play", "--server", hub.url, "--best-of", "1"], second)
    children.append(other)
    other.expect(r"Game \S+: ann vs computer")
    assert "Registered" not in transcript(other)

    out = spawn(["logout", "--server", hub.url], second)
    children.append(out)
    out.expect(f"Signed out ann on {re.escape(hub.url)}; other devices keep their tokens.")
    assert finish(out) == 0
    assert TokenStore(second).get(hub.url, "ann") is None
    again = spawn(["login", token, "--server", hub.url], second)  # revoked on the hub
    children.append(again)
    again.expect("does not know that token")
    assert finish(again) == 1
    more = spawn(["login", "--server", hub.url], first)  # the first device's token still works
    children.append(more)
    more.expect(rf"A token for ann on {re.escape(hub.url)}, for another device:")
    assert finish(more) == 0


def test_login_with_a_token_the_hub_does_not_know_saves_nothing(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    take = spawn(["login", "x" * 43, "--server", hub.url], tmp_path)
    children.append(take)
    take.expect(r"rps-hub: the hub at http://127\.0\.0\.1:\d+ does not know that token")
    assert finish(take) == 1
    assert TokenStore(tmp_path).last_name(hub.url) is None


def test_login_without_a_saved_token_says_what_to_do(
    hub: HubProcess, tmp_path: Path, children: list[pexpect.spawn]
) -> None:
    give = spawn(["login", "--server", hub.url], tmp_path)
    children.append(give)
    give.expect("rps-hub: no saved token for a player on http://127.0.0.1:\\d+: play once first")
    assert finish(give) == 1


def test_a_token_that_starts_with_a_dash_goes_after_two_dashes() -> None:
    # Hubs before 2026-12-06 gave one token in 64 a leading "-" (hub.identity.new_token no more).
    args = build_parser().parse_args(["login", "--server", "http://h", "--", "-Abc_9"])
    assert (args.token, args.server) == ("-Abc_9", "http://h")
