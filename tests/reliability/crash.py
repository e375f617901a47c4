"""SIGKILL while people play: no acknowledged move may be lost.

Players play the computer over WebSocket and over REST, each move naming its ``round``, while a
killer SIGKILLs the hub after a random number of acknowledged moves and starts it again on the
same database.  A move whose answer was lost with the process is sent again once the hub is back
(the same roll for the same round is safe to repeat).  At the end the hub stops cleanly,
starts once more, and every acknowledged move is looked up in the stored games.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from attrs import define, field
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from tests.reliability.harness import Hub, Hubs, call, http

ROLLS = ("Rock", "Paper", "Scissors")
RULES = {"rules": "rps3", "best_of": 15}
STEP_TIMEOUT = 20.0  # any one request, and any wait for the hub to come back
Lost = (OSError, TimeoutError, WebSocketException, aiohttp.ClientError, ConnectionError)


class Again(Exception):
    """The hub refused for now (rate limit): try the same thing again."""


@define
class Restartable:
    """The hub under attack: restarted on the same database after every kill."""

    hubs: Hubs
    db: str
    args: tuple[str, ...]
    hub: Hub
    up: asyncio.Event = field(factory=asyncio.Event)
    kills: int = 0

    async def kill_and_restart(self, *, graceful: bool = False) -> None:
        """SIGKILL (or SIGTERM, exit 0 required), then the same command again."""
        self.up.clear()
        if graceful:
            code, _ = await self.hub.terminate()
            assert code == 0, self.hub.log()
        else:
            await self.hub.kill()
            self.kills += 1
        self.hub = await self.hubs.start(self.db, *self.args)
        self.up.set()

    async def available(self) -> Hub:
        """The running hub, once it serves."""
        async with asyncio.timeout(STEP_TIMEOUT * 3):
            await self.up.wait()
        return self.hub


@define
class Player:
    """One scripted player; ``acked`` holds (game, round, roll) for every answered move."""

    name: str
    token: str
    transport: str
    rng: random.Random
    acked: list[tuple[str, int, str]] = field(factory=list)
    game: str | None = None
    round: int = 1
    retries: int = 0
    pace: float = 0.0  # seconds between moves (0: flat out)


@define
class CrashResult:
    """What one crash run did and found."""

    backend: str
    kills: int
    acked: dict[str, int]  # by transport
    lost: dict[str, int]
    games: int
    retried: int
    lost_moves: list[tuple[str, str, int, str]]


async def crash_run(
    hubs: Hubs,
    db: str,
    *,
    kills: int,
    players: int,
    moves_between: tuple[int, int],
    seed: int,
    backend: str,
    args: tuple[str, ...] = (),
    on_kill: Callable[[int, int], None] | None = None,
) -> CrashResult:
    """Play with ``players`` WebSocket and ``players`` REST players; SIGKILL ``kills`` times."""
    args = ("--round-deadline", "0", "--grace", "0.2", *args)
    rng = random.Random(seed)
    target = Restartable(hubs, db, args, await hubs.start(db, *args))
    target.up.set()
    people: list[Player] = []
    async with http() as session:
        for i, transport in itertools.product(range(players), ("ws", "rest")):
            name = f"{transport}{i}x{rng.randrange(10**6)}"
            status, body = await call(
                session, "POST", target.hub.url + "/api/players", {"name": name}
            )
            assert status == 201, (status, body)
            people.append(Player(name, body["token"], transport, random.Random(rng.random())))
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(
                (ws_player if p.transport == "ws" else rest_player)(p, target, session, stop)
            )
            for p in people
        ]
        try:
            for k in range(kills + 1):
                goal = sum(len(p.acked) for p in people) + rng.randint(*moves_between)
                async with asyncio.timeout(STEP_TIMEOUT * 3):
                    while sum(len(p.acked) for p in people) < goal:
                        await _first(tasks, 0.01)
                if k < kills:
                    await target.kill_and_restart()
                    if on_kill is not None:
                        on_kill(target.kills, sum(len(p.acked) for p in people))
            stop.set()
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        code, _ = await target.hub.terminate()
        assert code == 0, target.hub.log()
        check = await hubs.start(db, *args)
        lost_moves = await _verify(session, check, people)
        await check.terminate()
    acked = {t: sum(len(p.acked) for p in people if p.transport == t) for t in ("ws", "rest")}
    lost = {t: sum(1 for m in lost_moves if m[0] == t) for t in ("ws", "rest")}
    games = len({g for p in people for g, _, _ in p.acked})
    return CrashResult(
        backend, target.kills, acked, lost, games, sum(p.retries for p in people), lost_moves
    )


async def _first(tasks: list[asyncio.Task[None]], seconds: float) -> None:
    """Let the players run for ``seconds``; a player that failed fails the run."""
    done, _ = await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        task.result()


async def _verify(
    session: aiohttp.ClientSession, hub: Hub, people: list[Player]
) -> list[tuple[str, str, int, str]]:
    """Every acknowledged move that the stored games do not hold."""
    games: dict[str, Any] = {}
    lost = []
    for p in people:
        for game_id, round_, roll in p.acked:
            if game_id not in games:
                status, games[game_id] = await call(
                    session, "GET", f"{hub.url}/api/games/{game_id}"
                )
                assert status == 200, (status, games[game_id])
            rounds = games[game_id]["rounds"]
            stored = rounds[round_ - 1]["moves"].get(p.name) if round_ <= len(rounds) else None
            if stored != roll:
                lost.append((p.transport, game_id, round_, roll))
    return lost


async def _resync(session: aiohttp.ClientSession, hub: Hub, p: Player) -> None:
    """Find the player's live game (a lost ``play`` answer may have started one) and its round."""
    status, page = await call(
        session, "GET", f"{hub.url}/api/games?player={p.name}&status=playing&limit=1"
    )
    assert status == 200, (status, page)
    if not page["games"]:
        p.game = None
        return
    p.game, p.round = page["games"][0]["id"], page["games"][0]["round"]


async def _persist(
    target: Restartable, p: Player, step: Callable[[Hub], Coroutine[Any, Any, None]]
) -> None:
    """Run ``step`` until it succeeds, waiting for the hub through every kill."""
    for attempt in itertools.count():
        hub = await target.available()
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await step(hub)
            return
        except Again:
            await asyncio.sleep(0.05)
        except Lost:
            if attempt > 50:
                raise
            p.retries += 1
            if target.hub is hub and hub.running:
                await asyncio.sleep(0.05)


async def rest_player(
    p: Player, target: Restartable, session: aiohttp.ClientSession, stop: asyncio.Event
) -> None:
    """Play the computer over REST until ``stop``."""

    async def step(hub: Hub) -> None:
        if p.game is None:
            await _resync(session, hub, p)
        if p.game is None:
            status, game = await call(
                session, "POST", hub.url + "/api/games", {"opponent": "computer", **RULES},
                token=p.token,
            )  # fmt: skip
            if status == 409:
                await _resync(session, hub, p)
                return
            assert status == 201, (status, game)
            p.game, p.round = game["id"], 1
            return
        roll = p.rng.choice(ROLLS)
        status, game = await call(
            session, "POST", f"{hub.url}/api/games/{p.game}/moves",
            {"roll": roll, "round": p.round}, token=p.token,
        )  # fmt: skip
        if status == 200:
            p.acked.append((p.game, p.round, roll))
            p.round += 1
            if game["status"] == "finished":
                p.game = None
        elif status == 409:
            await _resync(session, hub, p)
        elif status >= 500:
            raise ConnectionError(f"hub answered {status}")
        else:
            raise AssertionError((status, game))

    while not stop.is_set():
        await _persist(target, p, step)
        if p.pace:
            await asyncio.sleep(p.pace)


async def ws_player(
    p: Player, target: Restartable, session: aiohttp.ClientSession, stop: asyncio.Event
) -> None:
    """Play the computer over one WebSocket (reconnecting after every kill) until ``stop``."""
    ws: ClientConnection | None = None
    ids = itertools.count(1)
    pending: str | None = None  # the roll of a move sent for p.round whose answer never came

    async def request(op: str, **fields: Any) -> dict[str, Any]:
        assert ws is not None
        rid = next(ids)
        await ws.send(json.dumps({"type": op, "id": rid, **fields}))
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "reply" and frame["id"] == rid:
                if not frame["ok"] and frame["error"]["code"] == "rate_limited":
                    raise Again()
                if not frame["ok"] and frame["error"]["code"] == "unavailable":
                    raise ConnectionError("the hub is stopping")
                return dict(frame)

    async def step(hub: Hub) -> None:
        nonlocal ws
        try:
            await ws_step(hub)
        except Lost:
            if ws is not None:
                ws.transport.abort()
                await ws.wait_closed()
            ws = None
            raise

    async def ws_step(hub: Hub) -> None:
        nonlocal ws, pending
        if ws is None:
            ws = await connect(hub.ws_url, max_queue=None, open_timeout=STEP_TIMEOUT)
            json.loads(await ws.recv())  # welcome
            reply = await request("auth", token=p.token)
            assert reply["ok"], reply
            await _resync(session, hub, p)
        if p.game is None:
            reply = await request("play", opponent="computer", **RULES)
            if reply["ok"]:
                p.game, p.round = reply["data"]["game"], 1
            else:
                assert reply["error"]["code"] == "conflict", reply
                await _resync(session, hub, p)
            return
        roll = pending or p.rng.choice(ROLLS)
        pending = roll
        reply = await request("move", game=p.game, roll=roll, round=p.round)
        pending = None
        if reply["ok"]:
            p.acked.append((p.game, reply["data"]["round"], roll))
            p.round += 1
        else:
            assert reply["error"]["code"] == "conflict", reply
            await _resync(session, hub, p)

    try:
        while not stop.is_set():
            await _persist(target, p, step)
    finally:
        if ws is not None:
            await ws.close()
