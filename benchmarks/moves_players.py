"""The players of ``moves.py``, in its worker processes: each plays the computer flat out (rps3,
best of 15, a new game when one ends), answering every ``round_open`` at once, and reports the
moves it saw resolved in the measured window with their latencies.  A request refused as
``rate_limited``, or a ``play`` refused as ``unavailable`` (a cluster's lobby lock stayed taken),
is sent again after 50 ms and counted."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

from websockets.asyncio.client import connect

CONNECT_KW: dict[str, Any] = {"ping_interval": None, "open_timeout": 60, "max_size": 1 << 20}
ROLLS = ("Rock", "Paper", "Scissors")
PLAY = {"type": "play", "opponent": "computer", "best_of": 15, "rules": "rps3"}


class Player:
    """One connection playing the computer as fast as rounds resolve."""

    def __init__(self, url: str, token: str | None, window: list[float]) -> None:
        self.url, self.token, self.window = url, token, window
        self.sent: dict[int, float] = {}
        self.latencies: list[float] = []
        self.moves = 0
        self.rate_limited = 0
        self.unavailable = 0  # ``play`` refused: the lobby was busy (tried again)
        self.errors: list[str] = []
        self.next_id = 0
        self.game: str | None = None

    async def send(self, ws: Any, obj: dict[str, Any]) -> None:
        self.next_id += 1
        obj["id"] = self.next_id
        await ws.send(json.dumps(obj))

    async def request(
        self, ws: Any, pending: dict[int, dict[str, Any]], obj: dict[str, Any]
    ) -> None:
        """Send a request and remember it, so a ``rate_limited`` answer can be retried."""
        await self.send(ws, obj)
        pending[self.next_id] = obj

    async def run(self, stop_at: float) -> None:
        rng = random.Random()
        async with connect(self.url, **CONNECT_KW) as ws:
            await ws.recv()  # welcome
            await self.send(ws, {"type": "auth", "token": self.token or "reference"})
            pending: dict[int, dict[str, Any]] = {}
            await self.request(ws, pending, dict(PLAY))
            async for raw in ws:
                now = time.time()
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "event":
                    topic, name, data = msg["topic"], msg["event"], msg["data"]
                    if not topic.startswith("game:"):
                        continue
                    if name == "round_open":
                        if now >= stop_at:
                            return
                        n = data["round"]
                        move = {"type": "move", "game": topic[5:], "roll": rng.choice(ROLLS),
                                "round": n}  # fmt: skip
                        self.sent[n] = time.time()
                        await self.request(ws, pending, move)
                    elif name == "round":
                        t0 = self.sent.pop(data["round"], None)
                        if t0 is not None and self.window[0] <= now < self.window[1]:
                            self.moves += 1
                            self.latencies.append((now - t0) * 1000)
                    elif name == "game_over":
                        self.sent.clear()
                        if now >= stop_at:
                            return
                        await self.request(ws, pending, dict(PLAY))
                elif kind == "reply":
                    request = pending.pop(msg["id"], None)
                    if msg["ok"]:
                        continue
                    code = msg["error"]["code"]
                    if code == "unavailable" and request is not None and request["type"] == "play":
                        # The lobby was busy (a cluster's lock): the game did not start; a client
                        # tries again, as the error says.
                        self.unavailable += 1
                        await asyncio.sleep(0.05)
                        await self.request(ws, pending, request)
                    elif code == "rate_limited" and request is not None:
                        self.rate_limited += 1
                        await asyncio.sleep(0.05)
                        if request["type"] == "move":
                            self.sent[request["round"]] = time.time()
                        await self.request(ws, pending, request)
                    elif len(self.errors) < 3:
                        self.errors.append(f"{code}: {msg['error']['message']}")


async def worker_run(url: str, tokens: list[str | None], start: float, seconds: float,
                     warmup: float) -> dict[str, Any]:  # fmt: skip
    window = [start + warmup, start + warmup + seconds]
    players = [Player(url, t, window) for t in tokens]
    stop_at = window[1] + 0.5

    async def one(p: Player) -> None:
        try:
            await p.run(stop_at)
        except Exception as exc:
            p.errors.append(repr(exc))

    await asyncio.gather(*(one(p) for p in players))
    return {
        "moves": sum(p.moves for p in players),
        "latencies": [x for p in players for x in p.latencies],
        "rate_limited": sum(p.rate_limited for p in players),
        "unavailable": sum(p.unavailable for p in players),
        "idle": sum(not p.moves for p in players),
        "errors": [e for p in players for e in p.errors][:3],
    }


def worker_main(conn: Connection, url: str, tokens: list[str | None], start: float,
                seconds: float, warmup: float) -> None:  # fmt: skip
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn.send(asyncio.run(worker_run(url, tokens, start, seconds, warmup)))
