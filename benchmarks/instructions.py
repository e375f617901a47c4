"""What one move costs the whole hub process in machine instructions, counted by callgrind.

The hub runs in this process under ``valgrind --tool=callgrind`` (``create_app`` on a free port, a
temporary SQLite file or ``--db URL``), the players of ``hotpath.py`` in a process of their own,
not under valgrind.  Counting is on only over the window of ``--moves`` moves after a warm-up,
and covers every thread of the hub: the event loop's and the database's.  An instruction count
does not move with the machine's load the way CPU time does, so a change anywhere on the move
path can be measured on a busy machine (to a percent or two: how saves fall into batches still
depends on timing).  Valgrind runs the threads one at a time and ~50x slower, so batches are not
those of a native run; compare counts with counts.

``--reference`` counts ``moves_reference.py`` the same way (its app, in this process), for the
ratio the moves benchmark's targets are written in.  Each is set up as it serves: both with
``rps-hub serve``'s collector threshold (``hub.server.tune_gc``; before 2026-12-06 the hub ran
here with CPython's, and the collector counted ~10,000 instructions a move more than it does
served; the reference took it at 09:40 that day) and switch interval.  Either runs on the event
loop ``rps-hub serve`` would choose (uvloop when installed), or on the one ``--loop`` names.

Usage: ``.venv/bin/python benchmarks/instructions.py [--players 20] [--moves 1000] [--db URL]
[--reference] [--loop asyncio]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path

import moves_reference
from aiohttp import web
from hotpath import Players, register

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub import keys  # noqa: E402 - after the path is set
from hub.app import create_app  # noqa: E402
from hub.config import Config  # noqa: E402
from hub.loops import LOOPS, loop_factory  # noqa: E402
from hub.server import tune_gc, tune_switching  # noqa: E402

SLOWDOWN = 50.0  # about how much slower the hub runs under callgrind


def play(url: str, tokens: list[str], moves: Synchronized[int], stop: Event) -> None:
    """The players' process: play until told to stop, publishing the count of moves."""
    players = Players(url, tokens)
    players.thread.start()
    while not stop.wait(0.01):
        moves.value = players.moves
    players.stop.set()
    players.thread.join(10)


def instrument(state: str) -> None:
    """Switch callgrind's counting ``on`` or ``off``."""
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


async def reach(moves: Synchronized[int], target: int) -> None:
    """Wait until the players have made ``target`` moves in all (polled: they are elsewhere)."""
    while moves.value < target:  # noqa: ASYNC110
        await asyncio.sleep(0.02)


def reference_app(db: str) -> web.Application:
    """``moves_reference.py``'s server as an app."""
    app = web.Application()

    async def writer_ctx(app: web.Application) -> AsyncIterator[None]:
        app[moves_reference.WRITER] = moves_reference.GroupCommit(db)
        yield
        await app[moves_reference.WRITER].close()

    app.cleanup_ctx.append(writer_ctx)
    app.router.add_get("/ws", moves_reference.websocket)
    return app


async def measure(n: int, count: int, db: str, reference: bool) -> int:
    # The lobby's game_updated is at most one per game per second of the clock, and valgrind
    # runs about 50x slower than native: one per 50 s here is one per native second.
    config = Config(port=0, db=db, round_deadline=0, grace=0, heartbeat=0, rate=0, burst=0,
                    summary_interval=SLOWDOWN)  # fmt: skip
    app = reference_app(db) if reference else create_app(config)
    # Each server as it serves: with ``rps-hub serve``'s collector threshold and switch interval
    # (the reference's ``__main__`` sets both too, since 2026-12-06 09:40).
    tune_gc()
    tune_switching()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    ctx = mp.get_context("spawn")
    moves = ctx.Value("i", 0)
    stop = ctx.Event()
    try:
        tokens = ["any"] * n if reference else await register(f"http://127.0.0.1:{port}", n)
        proc = ctx.Process(target=play, args=(f"ws://127.0.0.1:{port}/ws", tokens, moves, stop))
        proc.start()
        await reach(moves, max(100, count // 5))  # warm-up
        start = moves.value
        store = None if reference else app[keys.STORAGE]
        saves = (store.saves, store.batches) if store is not None else (0, 0)
        instrument("on")
        await reach(moves, start + count)
        instrument("off")
        done = moves.value - start
        if store is not None:
            saved, batches = store.saves - saves[0], store.batches - saves[1]
            print(f"{saved / max(1, batches):.1f} saves a batch", file=sys.stderr)
        stop.set()
        await asyncio.get_running_loop().run_in_executor(None, proc.join, 30)
    finally:
        await runner.cleanup()
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=20)
    parser.add_argument("--moves", type=int, default=1000)
    parser.add_argument("--db", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--reference", action="store_true", help="count the reference server")
    parser.add_argument("--loop", choices=LOOPS, default="auto",
                        help="the event loop, as serve --loop")  # fmt: skip
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rps-instructions-") as tmp:
        if args.inside:  # under valgrind: run the hub and print the moves counted
            db = args.db or str(Path(tmp) / f"hub-{time.monotonic_ns()}.db")
            with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
                print(runner.run(measure(args.players, args.moves, db, args.reference)))
            return 0
        out = Path(tmp) / "cg.out"
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
               f"--callgrind-out-file={out}", sys.executable, __file__, "--inside",
               *sys.argv[1:]]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        moves = int(done.stdout.split()[-1])
        batch = [line for line in done.stderr.splitlines() if line.endswith("a batch")]
        totals = []
        for part in sorted(Path(tmp).glob("cg.out-*")):
            lines = part.read_text().splitlines()
            counts = [int(x.split()[1]) for x in lines if x.startswith(("summary:", "totals:"))]
            totals.append(max(counts, default=0))
        busy = [t for t in totals if t > 0]
        each = ", ".join(f"{t / moves:,.0f}" for t in busy)
        server = "reference" if args.reference else "hub"
        total = sum(busy) / moves
        print(f"{server}, {moves} moves, {args.players} players: {total:,.0f} instructions per"
              f" move (by thread, the event loop's first: {each}){'; ' if batch else ''}"
              f"{''.join(batch)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "hub"
    raise SystemExit(main())
