"""Durable moves: rps-hub beside a bare durable-move reference server, interleaved in one run.

For each N (concurrent players) and each server, the script starts the server as a subprocess on
a free 127.0.0.1 port and N WebSocket players (``websockets``, spread over worker processes).
Every player plays the computer flat out — rps3, best of 15, a new game when one ends — and
answers each ``round_open`` with a move for that round at once.  Over a measured window it reports

- **µs CPU/move**: server utime+stime (``/proc``, all threads) ÷ rounds resolved in the window;
- **moves/s**: rounds resolved (a ``round`` event received) per second of the window;
- **p50/p99 ms**: time from sending a move to receiving its ``round`` event;
- per move also: the server's main thread (its event loop) alone and its system time; the
  players' worker processes' CPU (they share the machine's cores with the server); the bytes and
  calls of the server's ``write``/``pwrite`` (its files: ``/proc`` io does not count ``send``);
  on PostgreSQL the CPU of its server processes (the database's work is there, not in the hub's
  process, so ``µs CPU/move`` leaves it out).

Servers: ``hub`` (``python -m hub serve`` on a temporary SQLite file, deadline/grace/heartbeat
off, ``--ws-rate 0``: no per-connection request limit, as the reference has none), ``hub-pg``
(the same on PostgreSQL, ``--pg URL``, a fresh schema per run, dropped after it), ``reference``
(``moves_reference.py``: aiohttp + SQLite WAL, group commit, what the protocol asks of a move)
and ``reference-pg`` (the same on PostgreSQL: asyncpg, group commit, a fresh schema; ``hub-pg``
is compared with it when it ran, else with ``reference``); ``lean`` and ``lean-pg`` are the
reference before 2026-12-06 (``moves_reference.py --lean``: no ``moved`` event, no event rows),
each server is compared with them too when they ran; ``before`` is the hub of another checkout
(``--before DIR``), for an interleaved A/B (``before-pg`` its hub on PostgreSQL).  Each runs on
its default event loop (uvloop when installed, for the hub and the references alike; a
``before`` older than ``serve --loop`` runs on asyncio); ``SERVER@asyncio`` or ``SERVER@uvloop``
names the loop, and a server is compared with the reference on the same loop.  A move refused as
``rate_limited`` (should a hub be run with a limit) is retried after 50 ms and counted.  Players
that made no move in the window are counted in a note: the window then measured fewer players
than asked (until 2026-12-06 12:00, 6-15% of the hub's 1,000 were still logging in).

Usage: ``.venv/bin/python benchmarks/moves.py [--players 10 100 1000] [--servers hub reference]
[--seconds 10] [--pg postgresql://127.0.0.1/test] [--json out.json] [--plot out.png]
[--profile DIR] [--before DIR]``; ``--profile`` samples each server with py-spy over its window
(collapsed stacks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import aiohttp
import asyncpg
from benchlib import io, main_thread_seconds, postgres_seconds, switches, times
from fanout import (
    cpu_seconds,
    die_with_parent,
    fmt,
    free_port,
    no_nan,
    percentile,
    raise_nofile,
    stop_server,
    wait_listening,
)
from moves_players import worker_main, worker_run
from moves_report import Result, plot, table

# worker_run: cluster_ab.py takes the players from here.
__all__ = ["register", "worker_run"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


# -- servers --------------------------------------------------------------------------------------


SERVERS = ("hub", "hub-pg", "reference", "reference-pg", "before", "before-pg", "lean", "lean-pg")


def server(text: str) -> str:  # a --servers item: one of SERVERS, @uvloop or @asyncio optional
    kind, at, loop = text.partition("@")
    if kind not in SERVERS or (at and loop not in ("uvloop", "asyncio")):
        raise argparse.ArgumentTypeError(f"{text!r}: use one of {', '.join(SERVERS)}[@LOOP]")
    return text


def start_server(
    kind: str, port: int, tmp: Path, pg: str, before: Path | None = None, schema: str = ""
) -> subprocess.Popen[bytes]:
    """The server ``kind`` on ``port``; on PostgreSQL in ``schema``, which it creates.
    ``kind@loop`` runs it on that event loop (``--loop``); without it, on the server's default."""
    kind, _, loop = kind.partition("@")
    common = ["--round-deadline", "0", "--grace", "0", "--heartbeat", "0", "--ws-rate", "0",
              "--log-level", "WARNING"]  # fmt: skip
    cwd = ROOT
    if kind in ("hub", "before"):
        cmd = [sys.executable, "-m", "hub", "serve", "--port", str(port),
               "--db", str(tmp / f"hub-{port}.db"), *common]  # fmt: skip
        if kind == "before":  # ``-m`` imports the hub from the working directory: that checkout's
            assert before is not None
            cwd = before
    elif kind in ("hub-pg", "before-pg"):
        sep = "&" if "?" in pg else "?"
        cmd = [sys.executable, "-m", "hub", "serve", "--port", str(port),
               "--db", f"{pg}{sep}schema={schema}", *common]  # fmt: skip
        if kind == "before-pg":
            assert before is not None
            cwd = before
    elif kind in ("reference-pg", "lean-pg"):
        cmd = [sys.executable, str(HERE / "moves_reference.py"), "--port", str(port),
               "--pg", pg, "--schema", schema]  # fmt: skip
    else:
        cmd = [sys.executable, str(HERE / "moves_reference.py"), "--port", str(port),
               "--db", str(tmp / f"ref-{port}.db")]  # fmt: skip
    if kind.startswith("lean"):
        cmd.append("--lean")
    if loop:
        cmd += ["--loop", loop]
    log = open(tmp / f"{kind}-{port}.log", "wb")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
    finally:
        log.close()


def profile(pid: int, args: argparse.Namespace, name: str) -> subprocess.Popen[bytes]:
    """py-spy sampling the server over the measured window, without pausing it, into
    ``PROFILE/name.txt`` (collapsed stacks: one line per stack and its sample count)."""
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile / f"{name}.txt"
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    cmd = [spy, "record", "--pid", str(pid), "--duration", str(math.ceil(args.seconds)),
           "--rate", "250", "--nonblocking", "--format", "raw", "--output", str(out)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def register(base: str, n: int) -> list[str | None]:
    tokens: list[str | None] = []
    tag = secrets.token_hex(3)
    async with aiohttp.ClientSession() as http:
        for i in range(n):
            async with http.post(f"{base}/api/players", json={"name": f"mv{tag}{i:04d}"}) as r:
                if r.status != 201:
                    raise RuntimeError(f"POST /api/players: {r.status} {await r.text()}")
                tokens.append((await r.json())["token"])
    return tokens


async def batches(base: str) -> tuple[float, float]:
    """The hub's (saves, batches) so far, from ``/metrics``."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as r:
        text = await r.text()
    found = dict(line.partition(" ")[::2] for line in text.splitlines() if " " in line)
    saves = found.get("rps_hub_storage_saves_total", "0")
    return float(saves), float(found.get("rps_hub_storage_batches_total", "0"))


async def bench_one(kind: str, n: int, args: argparse.Namespace, tmp: Path) -> Result:
    res = Result(kind, n, seconds=args.seconds)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    on_pg = kind.partition("@")[0].endswith("-pg")
    schema = f"bench_{secrets.token_hex(4)}" if on_pg else ""
    proc = start_server(kind, port, tmp, args.pg, args.before, schema)
    try:
        await wait_listening(proc, port, patience=30)
        hub = not kind.startswith(("reference", "lean"))
        tokens = await register(base, n) if hub else [None] * n
        ctx = mp.get_context("spawn")
        nw = max(1, min(args.workers, n))
        start = time.time() + 2.0 + n / 500  # time for the workers to start and connect
        handles = []
        for i in range(nw):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=worker_main, daemon=True, args=(
                child, base.replace("http", "ws", 1) + "/ws", tokens[i::nw], start,
                args.seconds, args.warmup,
            ))  # fmt: skip
            p.start()
            child.close()
            handles.append((parent, p))
        await asyncio.sleep(max(0.0, start + args.warmup - time.time()))
        spy = profile(proc.pid, args, f"{kind}-{n}") if args.profile else None
        saved0 = await batches(base) if hub else (0.0, 0.0)
        cpu0, loop0, io0 = cpu_seconds(proc.pid), main_thread_seconds(proc.pid), io(proc.pid)
        sys0, switches0 = times(str(proc.pid))[1], switches(proc.pid)
        clients0 = sum(cpu_seconds(p.pid) for _, p in handles if p.pid is not None)
        db0 = postgres_seconds() if on_pg else {}
        await asyncio.sleep(args.seconds)
        res.cpu_s = cpu_seconds(proc.pid) - cpu0
        loop_s = main_thread_seconds(proc.pid) - loop0
        io1 = io(proc.pid)
        sys_s = times(str(proc.pid))[1] - sys0
        switched = switches(proc.pid) - switches0
        clients_s = sum(cpu_seconds(p.pid) for _, p in handles if p.pid is not None) - clients0
        db1 = postgres_seconds() if on_pg else {}
        db_s = sum(t - db0.get(pid, 0.0) for pid, t in db1.items())
        if hub:
            saved1 = await batches(base)
            res.saves_per_batch = (saved1[0] - saved0[0]) / max(1.0, saved1[1] - saved0[1])
        if spy is not None:
            spy.wait(30)
        loop = asyncio.get_running_loop()
        reports = []
        for parent, p in handles:
            if await loop.run_in_executor(None, parent.poll, 60):
                reports.append(parent.recv())
            else:
                res.notes.append("a worker did not report")
            p.join(5)
            if p.is_alive():
                p.kill()
        lat = sorted(x for r in reports for x in r["latencies"])
        res.moves = sum(r["moves"] for r in reports)
        res.rate_limited = sum(r["rate_limited"] for r in reports)
        refused = sum(r["unavailable"] for r in reports)
        if refused:
            res.notes.append(f"{refused} games refused as the lobby was busy (tried again)")
        idle = sum(r["idle"] for r in reports)
        if idle:  # still logging in, or stuck: the window measured fewer players than asked
            res.notes.append(f"{idle} of {n} players made no move in the window")
        errors = [e for r in reports for e in r["errors"]]
        if errors:
            res.notes.append(f"errors, e.g. {errors[:2]}")
        if res.moves:
            res.us_per_move = res.cpu_s / res.moves * 1e6
            res.loop_us_per_move = loop_s / res.moves * 1e6
            res.sys_us_per_move = sys_s / res.moves * 1e6
            if on_pg:
                res.db_us_per_move = db_s / res.moves * 1e6
            res.written_per_move = (io1[0] - io0[0]) / res.moves
            res.writes_per_move = (io1[1] - io0[1]) / res.moves
            res.switches_per_move = switched / res.moves
            res.client_us_per_move = clients_s / res.moves * 1e6
            res.moves_per_s = res.moves / args.seconds
            res.p50_ms, res.p99_ms = percentile(lat, 0.50), percentile(lat, 0.99)
    finally:
        stop_server(proc)
        if schema:
            await drop_schema(args.pg, schema)
    return res


async def drop_schema(pg: str, schema: str) -> None:
    """Drop a PostgreSQL server's schema once it has stopped (each run makes a fresh one)."""
    db = await asyncpg.connect(pg)
    try:
        await db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await db.close()


async def amain(args: argparse.Namespace) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory(prefix="rps-moves-") as tmp:
        for n in args.players:
            for kind in args.servers:
                r = await bench_one(kind, n, args, Path(tmp))
                print(f"  {kind:9} players={n:<5} {fmt(r.us_per_move, 0)} µs/move, "
                      f"{fmt(r.moves_per_s, 0)} moves/s, p50 {fmt(r.p50_ms)} ms, "
                      f"p99 {fmt(r.p99_ms)} ms, rate-limited {r.rate_limited}, "
                      f"{fmt(r.saves_per_batch)} saves a batch, "
                      f"loop {fmt(r.loop_us_per_move, 0)} µs/move, "
                      f"system {fmt(r.sys_us_per_move, 0)} µs/move, "
                      f"clients {fmt(r.client_us_per_move, 0)} µs/move, "
                      f"{fmt(r.written_per_move, 0)} bytes in {fmt(r.writes_per_move)} writes "
                      f"a move, {fmt(r.switches_per_move)} context switches a move "
                      f"{'; '.join(r.notes)}", file=sys.stderr, flush=True)  # fmt: skip
                results.append(r)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--servers", nargs="+", default=["hub", "reference"], type=server,
                        metavar="SERVER[@LOOP]", help=f"{SERVERS}; @uvloop, @asyncio")  # fmt: skip
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="server 'before': another checkout's hub (A/B)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before the window")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy each server over its window: DIR/SERVER-N.txt")  # fmt: skip
    parser.add_argument("--plot", type=Path, help="a PNG of the results (needs matplotlib)")
    args = parser.parse_args()
    raise_nofile()
    print(f"moves benchmark, {os.cpu_count()} CPUs, Python {platform.python_version()}",
          file=sys.stderr)  # fmt: skip
    try:
        results = asyncio.run(amain(args))
    except KeyboardInterrupt:
        return 130
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "cpus": os.cpu_count(),
            "results": [no_nan(asdict(r)) for r in results],
        }, indent=2))  # fmt: skip
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
