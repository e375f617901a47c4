"""The terminal client's connection is cut mid-game and the round decided meanwhile is not lost.

The hub runs in the test's event loop behind a proxy the test can cut; the opponent is the client
library; the player is the CLI in a pseudo-terminal, read on a worker thread so the hub keeps
serving while the test waits for the screen.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pexpect

from tests.client.pty import quit_after_game, spawn, stop, transcript
from tests.client.support import Clients, ProxyFactory, is_event, until, url_of
from tests.conftest import HubFactory


async def expect(child: pexpect.spawn, pattern: str) -> None:
    await asyncio.to_thread(child.expect, pattern)


async def test_the_cli_shows_a_round_decided_while_its_connection_was_cut(
    start_hub: HubFactory, clients: Clients, proxies: ProxyFactory, tmp_path: Path
) -> None:
    server = await start_hub()
    proxy = await proxies(server)
    bob = await clients.player(url_of(server), "bob")
    args = ["play", "--server", proxy.url, "--name", "ann", "--opponent", "bob"]
    ann = await asyncio.to_thread(spawn, [*args, "--best-of", "3", "--rules", "rps3"], tmp_path)
    try:
        challenge = (await until(bob, is_event("challenge")))[-1]["data"]["id"]
        game = (await bob.accept(challenge))["game"]
        await expect(ann, r"Round 1 · [^\r\n]*your roll")
        ann.sendline("rock")
        await until(bob, is_event("moved", round=1, player="ann"))

        proxy.cut(block=True)
        await expect(ann, r"connection lost \([^)]*\); reconnecting")
        await bob.move(game, "paper", 1)  # decided while ann cannot hear it
        await until(bob, is_event("round_open", round=2))
        proxy.unblock()

        await expect(ann, "reconnected; catching up")
        await expect(ann, r"Round 1: you Rock, bob Paper — bob wins the round\. you 0-1 bob")
        await expect(ann, r"Round 2 · [^\r\n]*your roll")
        ann.sendline("scissors")
        await until(bob, is_event("moved", round=2, player="ann"))
        await bob.move(game, "rock", 2)
        await expect(ann, r"bob won the game: you 0-2 bob\.")
        assert await asyncio.to_thread(quit_after_game, ann) == 0
        assert re.findall(r"Round (\d+): you", transcript(ann)) == ["1", "2"]
    finally:
        await asyncio.to_thread(stop, ann)
