"""The cluster benchmark's failure parts: a dead node's round deadlines (part 3) and its players'
presence (part 4), from one SIGKILL, twice: once while the node's lobby is quiet, and once while
the node holds the lobby lock (the worst moment: every lobby change of the cluster waits for the
lock's TTL).

Three nodes with ``--round-deadline D --grace G``.  ``2 x --games`` players connect to node 1
only and play each other there: each pair's challenge is accepted and both move in round 1, so
node 1 stores round 1, opens round 2 and arms its deadline (the games are set up over 0.6 x D,
so that their deadlines fall on different sweeps of the survivors).  A spectator on node 0
follows every game, and lobby watchers on nodes 0 and 2.  Right after the last game's round 2
opened, node 1 is SIGKILLed, and the lobby lock's remaining TTL is read from Redis.  For the
second kill, ``--busy`` more pairs on node 1 challenge and withdraw in a loop (each a lobby
change under the lock) and, 0.3 s into it, node 1 is SIGSTOPped at a moment Redis shows the lock
taken (only node 1 changes the lobby then; tried again if the lock was freed before the stop
landed), then SIGKILLed.  Nobody moves again and nobody reconnects, so

- each game's round 2 must expire on a surviving node: its ``round`` event (both moves null) is
  timed against the deadline named by ``round_open``, by the event's ``ts`` (when a node fired
  it) and by its receipt on node 0 (a game whose deadline fell before the kill is left out);
- each player must leave: ``player_left`` on nodes 0 and 2, timed from the kill.

Receipt is when a waiting task saw the frame (the harness's reader keeps every frame); ``ts`` is
the node's unix ms.  The harness's connections check seqs and bytes as they read; anything they
found is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchlib import percentile
from redis.asyncio import Redis

from tests.cluster.harness import Cluster, cluster
from tests.cluster.harness_clients import Conn, connected
from tests.cluster.harness_games import challenge_and_accept, joined

KILLED = 1
WATCHING = (0, 2)


def ms(iso: str) -> int:
    """Unix ms of an ISO-8601 time ending in ``Z``."""
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


def summary(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    nan = float("nan")
    return {
        "n": len(xs),
        "min": xs[0] if xs else nan,
        "p50": percentile(xs, 0.5),
        "max": xs[-1] if xs else nan,
    }


async def lock_left(r: Redis, c: Cluster) -> int:
    """The ms the lobby lock stays taken (-2: free): a lock the dead node held stops every lobby
    change in the cluster until it expires."""
    return int(await r.pttl(f"{c.prefix}:lobby:lock"))


async def freeze_holding(r: Redis, c: Cluster) -> int:
    """SIGSTOP node 1 at a moment it holds the lobby lock (it is the only node changing the
    lobby then): stop it when the lock is taken, and let it go on and try again if the lock
    was freed meanwhile.  The tries it took."""
    hub = c.node(KILLED).hub
    assert hub is not None
    for tries in range(1, 2001):
        if await lock_left(r, c) > 0:
            hub.proc.send_signal(signal.SIGSTOP)
            if await lock_left(r, c) > 0:
                return tries
            hub.proc.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.001)
    raise RuntimeError("node 1 was never caught holding the lobby lock")


async def seen_at(
    conn: Conn, topic: str, event: str, match: Any, after: int, within: float
) -> tuple[float, dict[str, Any]]:
    """When (unix s) ``conn`` had the matching event, and the event's frame."""
    got = await conn.wait_event(topic, event, match, after=after, within=within)
    return time.time(), got.frame


async def set_up(a: Conn, b: Conn, spectator: Conn) -> tuple[str, int] | None:
    """A game between ``a`` and ``b`` in its round 2 (both moved in round 1); its id and the
    round 2 deadline (unix ms); None when round 1 could not be played in time."""
    game = await challenge_and_accept(a, b, best_of=3, rules="rps3")
    topic = f"game:{game}"
    mark = len(spectator.frames)
    await spectator.subscribe(topic)
    for conn, roll in ((a, "Rock"), (b, "Paper")):
        reply = await conn.request("move", game=game, roll=roll, round=1)
        if not reply.frame["ok"]:
            return None
    opened = await spectator.wait_event(topic, "round_open", lambda d: d["round"] == 2, after=mark)
    return game, ms(opened.data["deadline"])


async def busy(a: Conn, b: Conn, stop: asyncio.Event) -> int:
    """``a`` challenges ``b`` and withdraws, over and over (each a change of the lobby, under
    its lock), until ``stop`` or the connection ends; how many changes were answered."""
    done = 0
    with contextlib.suppress(Exception):  # the node is killed under it
        while not stop.is_set():
            await a.request("play", opponent=b.player)
            await a.request("cancel")
            done += 2
    return done


async def scenario(src: Path, args: argparse.Namespace, holding: bool) -> dict[str, Any]:
    """One kill of node 1; with ``holding`` while it holds the lobby lock."""
    node_args = (
        "--round-deadline",
        str(args.deadline),
        "--grace",
        str(args.grace),
        "--heartbeat",
        "0",
        "--ws-rate",
        "0",
    )
    async with (
        cluster(src, nodes=3, broker=True, args=node_args) as c,
        connected(c) as clients,
        Redis.from_url(c.redis.url if c.redis else "") as r,
    ):
        lobbies = [await clients.watcher(s, "lobby") for s in WATCHING]
        names = [f"dead{i:03d}" for i in range(2 * args.games)]
        names += [f"busy{i:03d}" for i in range(2 * args.busy if holding else 0)]
        players = list(await asyncio.gather(*(clients.player(n, KILLED) for n in names)))
        for lobby in lobbies:
            await joined(lobby, *names)
        spectator = await clients.connect(0, "deadlines")
        step = 0.6 * args.deadline / max(1, args.games - 1)  # deadlines spread over the sweeps

        async def staggered(i: int) -> tuple[str, int] | None:
            await asyncio.sleep(i * step)
            return await set_up(players[2 * i], players[2 * i + 1], spectator)

        made = await asyncio.gather(*(staggered(i) for i in range(args.games)))
        games = [g for g in made if g is not None]
        stop = asyncio.Event()
        pairs = players[2 * args.games :]
        loops = [
            asyncio.create_task(busy(pairs[i], pairs[i + 1], stop)) for i in range(0, len(pairs), 2)
        ]
        await asyncio.sleep(0.3 if loops else 0)
        tries = await freeze_holding(r, c) if holding else 0
        marks = [len(lobby.frames) for lobby in lobbies]
        killed_at = time.time()
        await c.kill(KILLED)
        lock_ms = await lock_left(r, c)
        stop.set()
        changes = sum(await asyncio.gather(*loops))
        kill_ms = killed_at * 1000
        late = args.deadline + 15

        async def expired(game: str, due: int) -> dict[str, Any]:
            at, frame = await seen_at(
                spectator, f"game:{game}", "round", lambda d: d["round"] == 2, 0, late
            )
            return {"due": due, "ts": frame["ts"], "at": at * 1000, "moves": frame["data"]["moves"]}

        async def left(lobby: Conn, mark: int, name: str) -> dict[str, float]:
            at, frame = await seen_at(
                lobby, "lobby", "player_left", lambda d: d["name"] == name, mark, args.grace + 20
            )
            return {"ts": frame["ts"] - kill_ms, "at": at * 1000 - kill_ms}

        fired, gone = await asyncio.gather(
            asyncio.gather(*(expired(g, due) for g, due in games)),
            asyncio.gather(
                *(left(lobby, m, n) for lobby, m in zip(lobbies, marks, strict=True) for n in names)
            ),
        )
        after = [f for f in fired if f["due"] > kill_ms]
        problems = clients.problems()
    deadline = {
        "games": len(made),
        "set_up_too_late": len(made) - len(games),
        "due_before_kill": len(fired) - len(after),
        "by_ts_ms": summary([f["ts"] - f["due"] for f in after]),
        "by_receipt_ms": summary([f["at"] - f["due"] for f in after]),
        "due_after_kill_ms": summary([f["due"] - kill_ms for f in after]),
        "early": sum(f["ts"] < f["due"] for f in after),
        "not_null": sum(any(v is not None for v in f["moves"].values()) for f in after),
    }
    presence = {
        "players": len(names),
        "watchers": len(lobbies),
        "by_ts_ms": summary([g["ts"] for g in gone]),
        "by_receipt_ms": summary([g["at"] for g in gone]),
    }
    return {
        "deadline": deadline,
        "presence": presence,
        "problems": problems[:5],
        "lobby_lock_ms_at_kill": lock_ms,
        "tries": tries,
        "lobby_changes_before_kill": changes,
    }


async def kill(src: Path, work: Path, args: argparse.Namespace, say: Any) -> dict[str, Any]:
    """Parts 3 and 4: node 1 killed while its lobby is quiet, then (on a fresh cluster) while
    it holds the lobby lock."""
    out: dict[str, Any] = {"settings": {"deadline_s": args.deadline, "grace_s": args.grace}}
    for name, holding in (("quiet", False), ("lock", True)):
        r = out[name] = await scenario(src, args, holding)
        d, p = r["deadline"]["by_ts_ms"], r["presence"]["by_receipt_ms"]
        say(
            f"  kill, lobby {name}: lock {r['lobby_lock_ms_at_kill']} ms left; {d['n']} "
            f"deadlines fired at +{d['min']:.0f}..{d['max']:.0f} ms; {r['presence']['players']} "
            f"players left {p['min']:.0f}..{p['max']:.0f} ms after the kill"
        )
    return out
