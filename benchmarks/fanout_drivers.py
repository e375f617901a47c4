"""The fan-out benchmark's drivers: connections that make the server publish lobby events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import aiohttp
from fanout_workers import CONNECT_KW
from websockets.asyncio.client import ClientConnection, connect


class Driver:
    """One driver connection; ``trigger()`` makes the server publish (at least) one lobby event."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.rate_limited = 0

    async def request(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        obj["id"] = self.next_id
        await self.ws.send(json.dumps(obj))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("type") == "reply" and msg.get("id") == self.next_id:
                return msg
            self.seen(msg)

    def seen(self, msg: dict[str, Any]) -> None:
        pass

    async def trigger(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)


class BaselineDriver(Driver):
    async def trigger(self) -> None:
        await self.request({"type": "move"})


class HubDriver(Driver):
    """A registered player playing the computer: each move resolves one round."""

    def __init__(self, ws: ClientConnection) -> None:
        super().__init__(ws)
        self.game: str | None = None

    async def ok(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Send a request, retrying while rate limited; return the reply's data."""
        for _ in range(200):
            reply = await self.request(dict(obj))
            if reply["ok"]:
                data: dict[str, Any] = reply["data"]
                return data
            if reply["error"]["code"] != "rate_limited":
                raise RuntimeError(f"{obj['type']} failed: {reply['error']}")
            self.rate_limited += 1
            await asyncio.sleep(0.1)
        raise RuntimeError("rate limited for 20 s")

    def seen(self, msg: dict[str, Any]) -> None:
        if msg.get("event") == "game_over" and msg.get("topic") == f"game:{self.game}":
            self.game = None

    async def play(self) -> None:
        self.game = (await self.ok({"type": "play", "opponent": "computer", "best_of": 15}))["game"]

    async def trigger(self) -> None:
        if self.game is None:
            await self.play()
        try:
            await self.ok({"type": "move", "game": self.game, "roll": "Rock"})
        except RuntimeError as exc:  # the game ended under us: a fresh one, then the move
            if "conflict" not in str(exc):
                raise
            await self.play()
            await self.ok({"type": "move", "game": self.game, "roll": "Rock"})


async def open_ws(url: str) -> ClientConnection:
    ws = await connect(url, **CONNECT_KW)
    json.loads(await ws.recv())  # welcome
    return ws


async def make_drivers(kind: str, base: str, count: int) -> list[Driver]:
    ws_url = base.replace("http", "ws", 1) + "/ws"
    if kind == "baseline":
        return [BaselineDriver(await open_ws(ws_url)) for _ in range(count)]
    drivers: list[Driver] = []
    async with aiohttp.ClientSession() as http:
        for i in range(count):
            async with http.post(f"{base}/api/players", json={"name": f"benchdrv{i:02d}"}) as r:
                if r.status != 201:
                    raise RuntimeError(f"POST /api/players: {r.status} {await r.text()}")
                token = (await r.json())["token"]
            d = HubDriver(await open_ws(ws_url))
            await d.ok({"type": "auth", "token": token})
            await d.play()
            drivers.append(d)
    return drivers


async def latest_seq(control: Driver) -> int:
    """The lobby's latest seq: subscribe (the reply carries it), then unsubscribe."""
    reply = await control.request({"type": "subscribe", "topic": "lobby"})
    if not reply["ok"]:
        raise RuntimeError(f"subscribe failed: {reply}")
    await control.request({"type": "unsubscribe", "topic": "lobby"})
    seq: int = reply["data"]["seq"]
    return seq


async def drive_burst(drivers: list[Driver], events: int) -> None:
    left = events

    async def run(d: Driver) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await d.trigger()

    await asyncio.gather(*(run(d) for d in drivers))


async def drive_paced(driver: Driver, events: int, rate: float) -> None:
    start = time.monotonic()
    for i in range(events):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await driver.trigger()


# -- one (server, N) ------------------------------------------------------------
