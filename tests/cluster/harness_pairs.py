"""Pairs of ``Player``s that start games and play them out, through any failure.

``start_game`` has one player challenge the other until a game starts (a lost answer may have
started it: the stored games say); ``play_game`` has both seats move at the same moment, round
after round, until ``game_over``, each move answered ``ok`` and each round's result seen by both.
"""

from __future__ import annotations

import asyncio
import functools
import random
from typing import Any

from tests.cluster.harness_players import Player

ROLLS = ("Rock", "Paper", "Scissors")
GAME = {"best_of": 5, "rules": "rps3"}
PAUSE = (0.02, 0.3)  # seconds between two rounds, at random


async def live_game(p: Player) -> str | None:
    """The id of ``p``'s live game as the stored games say (None without one)."""
    listed = await p.get(f"/api/games?player={p.name}&status=playing&limit=2")
    assert len(listed["games"]) <= 1, f"{p.name} has two live games: {listed}"
    return listed["games"][0]["id"] if listed["games"] else None


async def start_game(a: Player, b: Player, **play: Any) -> str:
    """``a`` challenges ``b`` until ``b`` accepts; the game, whose topic both follow.

    ``play`` goes with the challenge (default: ``GAME``).
    """
    for _ in range(100):
        # A player between games does nothing that would reconnect it: one whose connection a
        # node's end closed is away (not active, after a restart) until it does.  A client
        # reconnects by itself (client.connection), so the waiting seat comes back here.
        if b.conn.ended.is_set():
            await b.reconnect()
        reply = await a.act("play", opponent=b.name, **(play or GAME))
        if reply.frame["ok"]:
            answer = await b.act("accept", challenge=reply.data["challenge"])
            if answer.frame["ok"]:
                game: str = answer.data["game"]
                break
        # A lost answer may have started the game; otherwise someone was away: try again.
        found = await live_game(a) or await live_game(b)
        if found is not None:
            game = found
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"{a.name} and {b.name} never got a game started")
    for p in (a, b):
        await p.follow(game)
    return game


async def play_game(
    a: Player, b: Player, game: str, rng: random.Random, pause: tuple[float, float] = PAUSE
) -> None:
    """Both seats move at the same moment, random rolls round after round, with a random pause
    between rounds, until the game is over; every move must be answered ``ok``."""
    topic = f"game:{game}"
    for n in range(1, 51):
        replies = await asyncio.gather(*(p.move(game, n, rng.choice(ROLLS)) for p in (a, b)))
        for p, reply in zip((a, b), replies, strict=True):
            assert reply.frame["ok"], f"{p.conn.label} answered {reply.raw}"
        # What follows round n (the next round's opening, or the end) is in the same commit,
        # but a seat whose own move did not resolve the round gets it through another node:
        # its reply may come first, so wait for it before moving again.
        for p in (a, b):
            await p.wait_seen(topic, "round", {"round": n})
            await p.until(functools.partial(_round_followed, topic=topic, n=n), f"after round {n}")
        if a.seen(topic, "game_over"):
            break
        await asyncio.sleep(rng.uniform(*pause))
    for p in (a, b):
        await p.wait_seen(topic, "game_over")
        p.live.discard(topic)


def _round_followed(player: Player, *, topic: str, n: int) -> bool:
    """Whether ``player`` saw what follows round ``n``: round n + 1 open, or the game over."""
    opened = player.seen(topic, "round_open")
    return bool(player.seen(topic, "game_over")) or any(s.data["round"] == n + 1 for s in opened)
