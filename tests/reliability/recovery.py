"""Events across connection cuts and hub restarts: none lost, none twice.

Players play the computer over REST (paced), so every game topic fills with events whatever
happens to the watchers.  Two kinds of follower watch over WebSocket:

- spectators follow the lobby and, from its ``game_started`` events (or a lobby snapshot), every
  game from seq 0 (``since: 0`` with the game's epoch);
- seats: each player's own connection, authenticated, so the hub subscribes it to the player's
  games itself; after every reconnect it sends ``auth`` and then, at once, ``subscribe`` with
  ``since`` for each game it knew (the case that once replayed events twice).

A cutter aborts a random follower's TCP connection every so often, and every few cuts the hub is
restarted (SIGKILL and SIGTERM in turn) on the same database.  A follower reconnects and recovers
every topic with ``since``/``epoch``.  Game topics keep their whole history in storage, so each
must recover (``recovered: true``) and, in the end, each follower must have received every seq of
every game it followed exactly once.  The lobby's history dies with the process: after a restart
a snapshot is the right answer; it must still never repeat an event within an epoch.

The follower is in ``follower.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import aiohttp
from attrs import define, field
from websockets.asyncio.client import connect

from tests.reliability.crash import Player, Restartable, rest_player
from tests.reliability.follower import TIMEOUT, Follower
from tests.reliability.harness import Hub, Hubs, call, http, poll


@define
class RecoveryResult:
    """What a recovery run found."""

    cuts: int = 0
    kills: int = 0
    terms: int = 0
    followers: int = 0
    topics: int = 0  # (follower, game topic) pairs followed
    events: int = 0  # events received in all
    lost: int = 0
    duplicated: int = 0
    recovered: int = 0  # subscribe replies with recovered: true after a reconnect
    not_recovered: list[str] = field(factory=list)  # game topics answered with a snapshot
    lobby_snapshots: int = 0
    reconnects: int = 0
    moves: int = 0
    traces: list[Any] = field(factory=list)  # the follower's story of each topic with a loss


async def final_seq(hub: Hub, session: aiohttp.ClientSession, topic: str) -> int:
    """The latest seq of a topic, as a fresh subscriber is told."""
    ws = await connect(hub.ws_url, max_queue=None, open_timeout=TIMEOUT)
    try:
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "id": 1, "topic": topic}))
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "reply":
                return int(frame["data"]["seq"])
    finally:
        await ws.close()


async def recovery_run(
    hubs: Hubs,
    db: str,
    *,
    players: int,
    spectators: int,
    cuts: int,
    cut_every: float,
    restart_every: int,
    seed: int,
    pace: float = 0.05,
) -> RecoveryResult:
    """Cut ``cuts`` connections, one every ``cut_every`` s, restarting every ``restart_every``."""
    rng = random.Random(seed)
    args = ("--round-deadline", "0", "--grace", "0.5")
    target = Restartable(hubs, db, args, await hubs.start(db, *args))
    target.up.set()
    result = RecoveryResult()
    async with http() as session:
        movers = []
        for i in range(players):
            name = f"r{i}x{rng.randrange(10**6)}"
            status, body = await call(
                session, "POST", target.hub.url + "/api/players", {"name": name}
            )
            assert status == 201, (status, body)
            movers.append(
                Player(name, body["token"], "rest", random.Random(rng.random()), pace=pace)
            )
        followers = [Follower(f"spectator{i}", target) for i in range(spectators)]
        followers += [Follower(f"seat:{p.name}", target, p.token) for p in movers]
        stop, stop_following = asyncio.Event(), asyncio.Event()
        watching = [asyncio.create_task(f.run(session, stop_following)) for f in followers]
        for f in followers:
            async with asyncio.timeout(TIMEOUT):
                await f.connected.wait()
        playing = [asyncio.create_task(rest_player(p, target, session, stop)) for p in movers]
        try:
            for n in range(1, cuts + 1):
                done, _ = await asyncio.wait(
                    [*watching, *playing], timeout=cut_every * rng.uniform(0.5, 1.5),
                    return_when=asyncio.FIRST_COMPLETED,
                )  # fmt: skip
                for task in done:
                    task.result()  # a follower or player that failed fails the run
                result.cuts += rng.choice(followers).cut()
                if restart_every and n % restart_every == 0:
                    graceful = (n // restart_every) % 2 == 0
                    await target.kill_and_restart(graceful=graceful)
                    result.terms += graceful
            stop.set()
            await asyncio.gather(*playing)
            # No more cuts: every follower reconnects if it must, recovers, and catches up.
            hub = target.hub
            finals: dict[str, int] = {}

            async def caught_up() -> bool:
                for f in followers:
                    if f.failure is not None:
                        raise f.failure
                for topic in {t for f in followers for t in f.base} - finals.keys():
                    finals[topic] = await final_seq(hub, session, topic)
                return all(
                    f.connected.is_set()
                    and f.reader is not None
                    and not f.reader.done()
                    and f.lobby_games.empty()
                    for f in followers
                ) and all(f.last.get(t, 0) >= finals[t] for f in followers for t in f.base)

            try:
                await poll(caught_up, TIMEOUT * 3, 0.05)
            except TimeoutError:
                behind = [
                    (f.name, t, f.last.get(t), finals.get(t))
                    for f in followers
                    for t in f.base
                    if f.last.get(t, 0) < finals.get(t, 0)
                ]
                states = [(f.name, f.connected.is_set(), f.reconnects) for f in followers]
                stories = [
                    [x for x in f.trace if x[1] == t or x[1] == "conn"][-30:]
                    for f in followers
                    for name, t, _, _ in behind[:2]
                    if f.name == name
                ]
                raise AssertionError(
                    f"followers did not catch up: {behind} {states} {stories}"
                ) from None
            stop_following.set()
            await asyncio.gather(*watching)
        finally:
            stop.set()
            stop_following.set()
            for task in [*playing, *watching]:
                task.cancel()
            await asyncio.gather(*playing, *watching, return_exceptions=True)
            for f in followers:
                await f.close()
        await target.hub.terminate()
    result.kills = target.kills
    result.followers = len(followers)
    result.moves = sum(len(p.acked) for p in movers)
    for f in followers:
        topics, lost, dup, traces = f.tally(finals)
        result.traces += traces
        result.topics += topics
        result.lost += lost
        result.duplicated += dup
        result.events += sum(f.receipts.values())
        result.recovered += f.recovered
        result.not_recovered += f.not_recovered
        result.lobby_snapshots += f.lobby_snapshots
        result.reconnects += f.reconnects
    return result
