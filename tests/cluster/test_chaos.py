"""Issue 10 (h): a seeded chaos run: nodes killed and restarted while six players play.

Three pairs of players, each player on a random node, play game after game (challenge, accept,
rounds of random rolls with random pauses) while every 1.5-3 s a random node is SIGKILLed or
SIGTERMed and restarted 0.2-1.5 s later, for ``DURATION`` seconds.  Players follow the failures:
reconnect to a running node, recover their games, send again what went unanswered.  Then every
invariant at once: no acknowledged move lost; every game finished and stored as every watcher saw
it; nobody ever in two live games (the stored games of each player never overlap in time); a
SIGTERMed node exits 0; every connection's seqs contiguous, the same bytes everywhere.

The seed is ``RPS_HUB_CHAOS_SEED`` or random, and every failure message starts with it.  With one
node (``RPS_HUB_TEST_CLUSTER=single``, as ``tests/cluster/test_harness.py`` runs it briefly) the
one hub is the one killed and restarted.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from pathlib import Path
from typing import Any

from tests.cluster.harness import Cluster, cluster
from tests.cluster.harness_clients import Clients, connected
from tests.cluster.harness_games import Acks, check_game, joined
from tests.cluster.harness_pairs import play_game, start_game
from tests.cluster.harness_players import Player

ARGS = ("--round-deadline", "0", "--grace", "5", "--ws-rate", "0")
DURATION = 18.0
PLAYERS = 6


def seed() -> int:
    """``RPS_HUB_CHAOS_SEED``, or a new random seed."""
    return int(os.environ.get("RPS_HUB_CHAOS_SEED") or random.randrange(1 << 32))


async def chaos_run(c: Cluster, clients: Clients, run_seed: int, duration: float) -> None:
    """The scenario on any cluster; ``duration`` seconds of kills and restarts."""
    rng = random.Random(run_seed)
    acks = Acks()
    lobby = await clients.watcher(0, "lobby")
    players = [
        await Player.join(clients, f"p{i}", rng.randrange(3), acks, random.Random(rng.random()))
        for i in range(PLAYERS)
    ]
    await joined(lobby, *(p.name for p in players))
    pairs = [(players[i], players[i + 1]) for i in range(0, PLAYERS, 2)]
    games: list[tuple[str, Player, Player]] = []
    stop = asyncio.Event()
    faults: list[str] = []

    async def pair(a: Player, b: Player, prng: random.Random) -> None:
        while not stop.is_set():
            game = await start_game(a, b)
            games.append((game, a, b))
            await play_game(a, b, game, prng)

    async def chaos() -> None:
        end = time.monotonic() + duration
        while time.monotonic() < end:
            await asyncio.sleep(rng.uniform(1.5, 3.0))
            victim, how = rng.randrange(len(c.nodes)), rng.choice(("kill", "stop"))
            faults.append(f"{how} node {victim}")
            if how == "kill":
                await c.kill(victim)
            else:
                code = await c.stop(victim)
                assert code == 0, f"node {victim} exited {code} on SIGTERM\n{c.describe()}"
            await asyncio.sleep(rng.uniform(0.2, 1.5))
            await c.restart(victim)
        stop.set()

    tasks = [asyncio.create_task(pair(a, b, random.Random(rng.random()))) for a, b in pairs]
    try:
        await chaos()
        async with asyncio.timeout(90):
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(
        f"chaos seed {run_seed}: {len(faults)} faults ({', '.join(faults)}), {len(games)} games,"
        f" {len(acks.moves)} moves acknowledged, {sum(p.reconnects for p in players)}"
        f" reconnections, {sum(p.unavailable for p in players)} unavailable"
    )

    for game, a, b in games:
        await check_game(clients, game, [a, b], range(3))
    assert (await clients.get(0, "/api/games?status=playing&limit=100"))["games"] == []
    for p in players:
        mine = (await clients.get(0, f"/api/games?player={p.name}&limit=100"))["games"]
        spans = sorted((g["started"], g["finished"]) for g in mine)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, f"{p.name} had two live games at once: {spans}"
    lost = await acks.lost(clients)
    assert lost == [], f"acknowledged moves not stored: {lost}"
    clients.assert_sound()


def with_seed(run_seed: int, exc: BaseException) -> AssertionError:
    """``exc`` again, its message led by the seed that reproduces it."""
    error = AssertionError(f"chaos seed {run_seed} (RPS_HUB_CHAOS_SEED={run_seed}): {exc}")
    error.__cause__ = exc
    return error


async def test_a_seeded_chaos_run_keeps_every_invariant(tmp_path: Path) -> None:
    run_seed = seed()
    try:
        async with cluster(tmp_path, args=ARGS) as c, connected(c) as clients:
            await chaos_run(c, clients, run_seed, DURATION)
    except (AssertionError, TimeoutError) as exc:
        raise with_seed(run_seed, exc) from exc


__all__: list[Any] = ["chaos_run", "seed", "with_seed"]
