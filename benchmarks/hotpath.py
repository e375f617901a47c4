"""What one move costs the hub, counted rather than timed: Python calls, JSON encodes, hops to a
database thread, socket writes, per move.

The hub runs in this process's main thread (``create_app`` on a free port, a temporary SQLite file
or ``--db URL``); players in another thread (their own event loop, ``websockets``) play the
computer flat out, rps3, best of 15. Only the hub's thread is counted (``sys.setprofile`` sees the
calling thread only), and only over the window of ``--moves`` moves after a warm-up. Counts, not
times, so the figures are the same on a busy machine; with several players a database write
serves several moves (group commit), so hops per move fall below one.

The hub runs on the event loop ``rps-hub serve`` would choose (uvloop when installed: its own
work is C, not counted, and so are its sockets' writes: ``socket_writes`` is ``nan`` there);
``--loop asyncio`` counts asyncio's Python and its writes too.

Usage: ``.venv/bin/python benchmarks/hotpath.py [--players 1 20] [--moves 2000] [--db URL]
[--loop asyncio]``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dis
import inspect
import json
import math
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import CodeType, FrameType

from aiohttp import web
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.app import create_app  # noqa: E402 - after the path is set
from hub.config import Config  # noqa: E402
from hub.loops import LOOPS, loop_factory, loop_name  # noqa: E402

PLAY = {"type": "play", "opponent": "computer", "best_of": 15, "rules": "rps3"}
ROLLS = ("Rock", "Paper", "Scissors")

# (code name, file suffix) → what it counts.  A hop is a call that hands work to another thread.
WATCHED = {
    ("encode", "json/encoder.py"): "json_encodes",
    # The frames' own encoder (protocol.messages) skips JSONEncoder.encode: counted at its callers.
    ("_dump", "protocol/messages.py"): "json_encodes",
    ("encode_data", "protocol/messages.py"): "json_encodes",
    ("encode_event", "protocol/messages.py"): "json_encodes",
    ("dumps", "json/__init__.py"): "json_dumps",
    ("call", "storage/sqlite_thread.py"): "db_hops",
    ("run_in_executor", "asyncio/base_events.py"): "executor_hops",
    ("write", "asyncio/selector_events.py"): "socket_writes",
}


SUSPENDABLE = inspect.CO_COROUTINE | inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR


def first_resume(code: CodeType) -> int:
    """Where a call of ``code`` starts; a coroutine resumed later reports another offset."""
    if not code.co_flags & SUSPENDABLE:
        return -1  # a plain function's "call" event is its one start
    return next(i.offset for i in dis.get_instructions(code) if i.opname == "RESUME")


class Counter:
    """A ``sys.setprofile`` hook counting Python calls (a coroutine once, not at each resumption),
    and the watched ones by name."""

    def __init__(self) -> None:
        self.calls = 0
        self.watched: collections.Counter[str] = collections.Counter()
        self.by_code: collections.Counter[CodeType] = collections.Counter()
        self._codes: dict[CodeType, tuple[int, str | None]] = {}

    def hook(self, frame: FrameType, event: str, arg: object) -> None:
        if event != "call":
            return
        code = frame.f_code
        known = self._codes.get(code)
        if known is None:
            name = next(
                (v for (fn, path), v in WATCHED.items()
                 if code.co_name == fn and code.co_filename.endswith(path)),
                None,
            )  # fmt: skip
            known = self._codes[code] = (first_resume(code), name)
        start, name = known
        if start >= 0 and frame.f_lasti != start:
            return  # a coroutine or generator resumed, not called
        self.calls += 1
        self.by_code[code] += 1
        if name is not None:
            self.watched[name] += 1


class Players:
    """Players in a thread of their own; ``moves`` counts rounds resolved (``round`` events)."""

    def __init__(self, url: str, tokens: list[str]) -> None:
        self.url, self.tokens = url, tokens
        self.moves = 0
        self.stop = threading.Event()
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event, int] | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _one(self, token: str) -> None:
        rng = random.Random()
        async with connect(self.url, ping_interval=None) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "auth", "id": 1, "token": token}))
            await ws.send(json.dumps({**PLAY, "id": 2}))
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") != "event" or not msg["topic"].startswith("game:"):
                    continue
                if self.stop.is_set():
                    return
                name, data = msg["event"], msg["data"]
                if name == "round_open":
                    move = {"type": "move", "id": 3, "game": msg["topic"][5:],
                            "roll": rng.choice(ROLLS), "round": data["round"]}  # fmt: skip
                    await ws.send(json.dumps(move))
                elif name == "round":
                    self.moves += 1
                    waiter = self._waiter
                    if waiter is not None and self.moves >= waiter[2]:
                        self._waiter = None
                        waiter[0].call_soon_threadsafe(waiter[1].set)
                elif name == "game_over":
                    await ws.send(json.dumps({**PLAY, "id": 2}))

    async def reach(self, moves: int) -> None:
        """Wait (in the hub's loop) until ``moves`` rounds have been resolved in all."""
        event = asyncio.Event()
        self._waiter = (asyncio.get_running_loop(), event, moves)
        if self.moves >= moves:
            return
        await event.wait()

    async def _run(self) -> None:
        await asyncio.gather(*(self._one(t) for t in self.tokens))


async def register(base: str, n: int) -> list[str]:
    import aiohttp

    tokens = []
    async with aiohttp.ClientSession() as http:
        for i in range(n):
            name = f"hp{random.randrange(16**6):06x}{i}"
            async with http.post(f"{base}/api/players", json={"name": name}) as r:
                tokens.append((await r.json())["token"])
    return tokens


async def measure(n: int, moves: int, db: str, top: int = 0) -> dict[str, float]:
    config = Config(port=0, db=db, round_deadline=0, grace=0, heartbeat=0, rate=0, burst=0)
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        tokens = await register(f"http://127.0.0.1:{port}", n)
        players = Players(f"ws://127.0.0.1:{port}/ws", tokens)
        players.thread.start()
        await players.reach(max(200, moves // 5))  # warm-up
        counter = Counter()
        start = players.moves
        sys.setprofile(counter.hook)
        await players.reach(start + moves)
        sys.setprofile(None)
        done = players.moves - start
        players.stop.set()
        players.thread.join(10)
    finally:
        await runner.cleanup()
    row = {"players": float(n), "moves": float(done), "calls": counter.calls / done}
    row.update({k: counter.watched[k] / done for k in WATCHED.values()})
    if loop_name(asyncio.get_running_loop()) == "uvloop":
        row["socket_writes"] = math.nan  # uvloop's transports write in C, unseen by the profiler
    if top:
        for code, count in counter.by_code.most_common(top):
            where = f"{Path(code.co_filename).name}:{code.co_firstlineno} {code.co_qualname}"
            print(f"  {count / done:7.2f}  {where}", file=sys.stderr)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--moves", type=int, default=2000)
    parser.add_argument("--db", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--top", type=int, default=0, help="list the N most called functions")
    parser.add_argument("--loop", choices=LOOPS, default="auto",
                        help="the hub's event loop, as serve --loop")  # fmt: skip
    args = parser.parse_args()
    cols = ["players", "calls", *dict.fromkeys(WATCHED.values())]
    print("| " + " | ".join(cols) + " |")
    print("| --- " * len(cols) + "|")
    with tempfile.TemporaryDirectory(prefix="rps-hotpath-") as tmp:
        for n in args.players:
            db = args.db or str(Path(tmp) / f"hub-{n}-{time.monotonic_ns()}.db")
            with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
                row = runner.run(measure(n, args.moves, db, args.top))
            cells = [f"{row['players']:.0f}"] + [f"{row[c]:.2f}" for c in cols[1:]]
            print("| " + " | ".join(cells) + " |", flush=True)
    print("\n(per move, in the hub's thread; hops are calls handing work to another thread)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
