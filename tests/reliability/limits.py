"""Floods from one client address, seen through a trusted proxy (docs/protocol.md).

The hub runs with ``--trusted-proxy 127.0.0.1``: every loopback peer is then a proxy and the client
address is the last ``X-Forwarded-For`` entry, so one test machine can be an attacker and a
bystander at once.  The attacker gets 20 REST requests/s with bursts of 40 (429 beyond),
10 registrations per hour, 50 open WebSockets (each with its own 20 requests/s and a close 1008
after 100 refusals within 10 s); the bystander, at another address, must be served all along.
Its move latency is measured with the flood and without it, in the same run.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from typing import Any

import aiohttp
from attrs import define, field
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.reliability.harness import Hub, call, http, percentile

ATTACKER = "203.0.113.7"
BYSTANDER = "198.51.100.2"
RATE, BURST = 20.0, 40  # docs/protocol.md, per address
WS_PER_ADDRESS = 50
REGISTRATIONS = 10
TIMEOUT = 30.0
ROLLS = ("Rock", "Paper", "Scissors")


def via(address: str) -> dict[str, str]:
    """The header a trusted proxy adds for a client at ``address``."""
    return {"X-Forwarded-For": f"192.0.2.99, {address}"}


@define
class Latency:
    """Move latencies in ms."""

    samples: list[float] = field(factory=list)
    failures: int = 0

    @property
    def p50(self) -> float:
        """Median."""
        return percentile(self.samples, 50)

    @property
    def p99(self) -> float:
        """99th percentile."""
        return percentile(self.samples, 99)


class Bystander:
    """A player at another address who plays the computer, timing each move."""

    def __init__(self, hub: Hub, session: aiohttp.ClientSession, name: str, token: str) -> None:
        self.hub, self.session, self.name, self.token = hub, session, name, token
        self.game: str | None = None
        self.round = 1
        self.rng = random.Random(name)
        self.ws: ClientConnection | None = None
        self.ids = itertools.count(1)
        self.over = False  # a game_over event came on the WebSocket

    @classmethod
    async def register(cls, hub: Hub, session: aiohttp.ClientSession, name: str) -> Bystander:
        """Register ``name`` from the bystander's address."""
        status, body = await call(
            session, "POST", hub.url + "/api/players", {"name": name}, headers=via(BYSTANDER)
        )
        assert status == 201, (status, body)
        return cls(hub, session, name, body["token"])

    async def rest_move(self) -> tuple[bool, float]:
        """One move over REST (a new game when none is live); whether it was 200, its ms."""
        if self.game is None:
            status, game = await call(
                self.session, "POST", self.hub.url + "/api/games",
                {"opponent": "computer", "best_of": 15, "rules": "rps3"},
                token=self.token, headers=via(BYSTANDER),
            )  # fmt: skip
            assert status == 201, (status, game)
            self.game, self.round = game["id"], 1
        started = time.perf_counter()
        status, game = await call(
            self.session, "POST", f"{self.hub.url}/api/games/{self.game}/moves",
            {"roll": self.rng.choice(ROLLS), "round": self.round},
            token=self.token, headers=via(BYSTANDER),
        )  # fmt: skip
        took = (time.perf_counter() - started) * 1000
        if status == 200:
            self.round += 1
            if game["status"] == "finished":
                self.game = None
        return status == 200, took

    async def _request(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.ws is not None
        rid = next(self.ids)
        await self.ws.send(json.dumps({"type": op, "id": rid, **fields}))
        async with asyncio.timeout(TIMEOUT):
            while True:
                frame = json.loads(await self.ws.recv())
                if frame["type"] == "reply" and frame["id"] == rid:
                    return dict(frame)
                if frame["type"] == "event" and frame["event"] == "game_over":
                    self.over = True

    async def ws_move(self) -> tuple[bool, float]:
        """One move over the bystander's WebSocket; whether it was answered ok, its ms."""
        if self.ws is None:
            self.ws = await connect(
                self.hub.ws_url, additional_headers=via(BYSTANDER), max_queue=None,
                open_timeout=TIMEOUT,
            )  # fmt: skip
            await self.ws.recv()
            assert (await self._request("auth", token=self.token))["ok"]
        if self.game is None:
            reply = await self._request("play", opponent="computer", best_of=15, rules="rps3")
            assert reply["ok"], reply
            self.game, self.round = reply["data"]["game"], 1
        started = time.perf_counter()
        reply = await self._request(
            "move", game=self.game, roll=self.rng.choice(ROLLS), round=self.round
        )
        took = (time.perf_counter() - started) * 1000
        if reply["ok"]:
            self.round += 1
        if self.over:
            self.game, self.over = None, False
        return bool(reply["ok"]), took

    async def play(self, transport: str, moves: int, pace: float, latency: Latency) -> None:
        """``moves`` moves, one every ``pace`` s at most (under the per-connection rate)."""
        for _ in range(moves):
            started = time.monotonic()
            ok, took = await (self.rest_move() if transport == "rest" else self.ws_move())
            if ok:
                latency.samples.append(took)
            else:
                latency.failures += 1
            await asyncio.sleep(max(0.0, pace - (time.monotonic() - started)))

    async def close(self) -> None:
        """Close the bystander's WebSocket."""
        if self.ws is not None:
            await self.ws.close()


@define
class RestFloodResult:
    """A REST flood from one address beside a bystander."""

    sent: int = 0
    ok: int = 0
    limited: int = 0  # 429 with the JSON error rate_limited
    other: list[tuple[int, Any]] = field(factory=list)
    seconds: float = 0.0  # from the first attacking request to the last answer
    quiet: Latency = field(factory=Latency)
    flooded: Latency = field(factory=Latency)

    @property
    def ok_bound(self) -> float:
        """The most 200s the protocol allows in ``seconds``: the burst plus the rate."""
        return BURST + RATE * self.seconds + 1


async def rest_flood_run(
    hub: Hub,
    *,
    requests: int,
    concurrency: int,
    bystander_moves: int,
    pace: float = 0.05,
    attacker_address: str = ATTACKER,
) -> RestFloodResult:
    """GETs from the attacker's address, ``concurrency`` at a time, while the bystander plays.

    The flood lasts as long as the bystander's flooded phase, and ``requests`` at most.
    """
    result = RestFloodResult()
    done = asyncio.Event()
    async with http() as session:
        bystander = await Bystander.register(hub, session, f"by{random.randrange(10**6)}")
        await bystander.play("rest", bystander_moves, pace, result.quiet)
        queue = iter(range(requests))

        async def attacker() -> None:
            for _ in queue:
                if done.is_set():
                    return
                status, body = await call(
                    session, "GET", hub.url + "/api/leaderboard", headers=via(attacker_address)
                )
                result.sent += 1
                if status == 200:
                    result.ok += 1
                elif status == 429 and body == {
                    "error": {"code": "rate_limited", "message": body["error"]["message"]}
                }:
                    result.limited += 1
                else:
                    result.other.append((status, body))

        started = time.monotonic()

        async def attackers() -> None:
            await asyncio.gather(*(attacker() for _ in range(concurrency)))
            result.seconds = time.monotonic() - started

        flood = asyncio.create_task(attackers())
        try:
            await bystander.play("rest", bystander_moves, pace, result.flooded)
            done.set()
            await flood
        finally:
            flood.cancel()
            await asyncio.gather(flood, return_exceptions=True)
    return result


async def registrations_run(
    hub: Hub, attempts: int, attacker_address: str = ATTACKER
) -> tuple[list[int], int]:
    """``attempts`` registrations from the attacker's address: their statuses; a bystander's."""
    tag = random.randrange(10**6)
    async with http() as session:
        statuses = []
        for i in range(attempts):
            status, _ = await call(
                session, "POST", hub.url + "/api/players", {"name": f"a{tag}x{i}"},
                headers=via(attacker_address),
            )  # fmt: skip
            statuses.append(status)
        status, _ = await call(
            session, "POST", hub.url + "/api/players", {"name": f"b{tag}"}, headers=via(BYSTANDER)
        )
    return statuses, status


@define
class WsFloodResult:
    """A WebSocket flood from one address beside a bystander."""

    tried: int = 0  # the first wave: one more than the allowance at once
    opened: int = 0
    refused: dict[int, int] = field(factory=dict)  # handshake status -> count, first wave
    reopened: int = 0  # sockets opened again after the hub closed one
    refused_later: dict[int, int] = field(factory=dict)
    frames_sent: int = 0
    replies_ok: int = 0
    rate_limited: int = 0
    closed_1008: int = 0
    other_closes: dict[str, int] = field(factory=dict)
    seconds: float = 0.0
    quiet: Latency = field(factory=Latency)
    flooded: Latency = field(factory=Latency)


def _count(counts: dict[Any, int], key: Any) -> None:
    counts[key] = counts.get(key, 0) + 1


async def ws_flood_run(
    hub: Hub,
    *,
    connections: int,
    frames: int,
    bystander_moves: int,
    pace: float = 0.1,
    attacker_address: str = ATTACKER,
) -> WsFloodResult:
    """``connections`` WebSockets at once from one address, then a flood while the bystander plays.

    Every open socket sends requests as fast as it can until the hub closes it, then opens
    again; the flood ends when the bystander is done or ``frames`` frames were sent.
    """
    result = WsFloodResult()
    done = asyncio.Event()

    async def open_one(first: bool) -> ClientConnection | None:
        try:
            return await connect(
                hub.ws_url, additional_headers=via(attacker_address), max_queue=None,
                open_timeout=TIMEOUT,
            )  # fmt: skip
        except InvalidStatus as exc:
            _count(result.refused if first else result.refused_later, exc.response.status_code)
            return None

    async def hammer(ws: ClientConnection) -> None:
        frame = '{"type":"unsubscribe","id":1,"topic":"lobby"}'

        async def read() -> None:
            async for raw in ws:
                reply = json.loads(raw)
                if reply["type"] == "reply" and reply["ok"]:
                    result.replies_ok += 1
                elif reply["type"] == "reply" and reply["error"]["code"] == "rate_limited":
                    result.rate_limited += 1

        reader = asyncio.create_task(read())
        try:
            while not done.is_set() and result.frames_sent < frames and not reader.done():
                await ws.send(frame)
                result.frames_sent += 1
                await asyncio.sleep(0)  # let the reader and the bystander run
        except ConnectionClosed:
            pass
        finally:
            if done.is_set() or result.frames_sent >= frames:
                await ws.close()
            async with asyncio.timeout(TIMEOUT):
                await asyncio.gather(reader, return_exceptions=True)
        rcvd = ws.protocol.close_rcvd
        if rcvd is not None and rcvd.code == 1008:
            result.closed_1008 += 1
        elif not done.is_set() and result.frames_sent < frames:
            _count(result.other_closes, str(rcvd.code if rcvd else None))

    async def socket_slot(ws: ClientConnection) -> None:
        current: ClientConnection | None = ws
        while current is not None:
            await hammer(current)
            current = None
            while current is None and not done.is_set() and result.frames_sent < frames:
                current = await open_one(False)
                if current is None:
                    await asyncio.sleep(0.05)  # the hub frees the slot once the close is done
                else:
                    result.reopened += 1

    async with http() as session:
        bystander = await Bystander.register(hub, session, f"wb{random.randrange(10**6)}")
        try:
            await bystander.play("ws", bystander_moves, pace, result.quiet)
            first = await asyncio.gather(*(open_one(True) for _ in range(connections)))
            result.tried = connections
            opened = [ws for ws in first if ws is not None]
            result.opened = len(opened)
            started = time.monotonic()
            slots = [asyncio.create_task(socket_slot(ws)) for ws in opened]
            try:
                await bystander.play("ws", bystander_moves, pace, result.flooded)
                done.set()
                await asyncio.gather(*slots)
                result.seconds = time.monotonic() - started
            finally:
                done.set()
                for task in slots:
                    task.cancel()
                await asyncio.gather(*slots, return_exceptions=True)
        finally:
            await bystander.close()
    return result
