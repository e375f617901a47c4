"""Reliability figures: the attacks of ``tests/reliability/`` in their long versions, one command.

Every attack starts its own ``python -m hub serve`` processes on 127.0.0.1 (free ports, a fresh
SQLite file, or a PostgreSQL schema when ``--postgres`` is given), is bounded in count and in time,
and reports what it counted.  The figures go to ``docs/reliability.md`` (``--out``), and as JSON
with ``--json``.  The attack code is the tests' own (``tests/reliability/*.py``); only the sizes
differ.  The report is written by ``reliability_report.py`` (one section per attack in
``reliability_sections.py``).

Usage::

    .venv/bin/python benchmarks/reliability.py                 # every attack, SQLite
    .venv/bin/python benchmarks/reliability.py --postgres 'postgresql://postgres@127.0.0.1/test?schema=rel_bench'
    .venv/bin/python benchmarks/reliability.py --only crash frames --kills 50

Attacks (``--only``): crash, frames, nonreader, shutdown, halfopen, idle, cap, silent, restflood,
wsflood, recovery.  A full run takes about 5 minutes (the idle flood waits out the real 75 s
keep-alive timeout, the half-open flood the real 10 s header timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from attrs import asdict  # noqa: E402
from reliability_report import render  # noqa: E402

from tests.reliability.conns import half_open_run, idle_run, silent_peer_run  # noqa: E402
from tests.reliability.crash import crash_run  # noqa: E402
from tests.reliability.frames import malformed_run  # noqa: E402
from tests.reliability.harness import Hubs, hubs  # noqa: E402
from tests.reliability.limits import (  # noqa: E402
    REGISTRATIONS,
    WS_PER_ADDRESS,
    registrations_run,
    rest_flood_run,
    ws_flood_run,
)
from tests.reliability.recovery import recovery_run  # noqa: E402
from tests.reliability.slow import (  # noqa: E402
    non_reader_run,
    shutdown_run,
    stops_reading_then_reads,
)

ATTACKS = ("crash", "frames", "nonreader", "shutdown", "halfopen", "idle", "cap", "silent",
           "restflood", "wsflood", "recovery")  # fmt: skip


def parse() -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", choices=ATTACKS, default=list(ATTACKS))
    p.add_argument(
        "--postgres",
        metavar="URL",
        help="also run the crash attack on PostgreSQL "
        "(postgresql://user@127.0.0.1/db?schema=NAME: created if missing, left for you to drop)",
    )
    p.add_argument("--kills", type=int, default=20, help="SIGKILLs per backend (20)")
    p.add_argument("--players", type=int, default=3, help="players per transport (3)")
    p.add_argument("--frames", type=int, default=5000, help="random malformed frames (5000)")
    p.add_argument("--games", type=int, default=200, help="live games behind a non-reader (200)")
    p.add_argument("--non-readers", type=int, default=5, help="non-readers at SIGTERM (5)")
    p.add_argument("--half-open", type=int, default=2000, help="half-open connections (2000)")
    p.add_argument("--idle", type=int, default=2000, help="idle keep-alive connections (2000)")
    p.add_argument("--cap", type=int, default=500, help="--max-connections of the cap attack")
    p.add_argument("--silent", type=int, default=200, help="WebSockets that never pong (200)")
    p.add_argument("--heartbeat", type=float, default=5.0, help="--heartbeat of that hub (5)")
    p.add_argument(
        "--rest-requests",
        type=int,
        default=50_000,
        help="REST flood: most requests (50000); it ends with the bystander's moves",
    )
    p.add_argument(
        "--ws-frames",
        type=int,
        default=1_000_000,
        help="WebSocket flood: most frames (1000000); it ends with the bystander's moves",
    )
    p.add_argument("--moves", type=int, default=100, help="bystander moves per phase (100)")
    p.add_argument("--cuts", type=int, default=100, help="connection cuts (100)")
    p.add_argument("--restart-every", type=int, default=10, help="cuts per hub restart (10)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    p.add_argument("--json", type=Path, help="also write the figures here, as JSON")
    p.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="run nothing: write --out from the figures a --json run saved",
    )
    p.add_argument("--seed", type=int, default=20261205)
    return p.parse_args()


def machine() -> dict[str, Any]:
    """Where and when the figures were taken."""
    from importlib.metadata import version

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no").strip()),
        "cpus": os.cpu_count(),
        "load": os.getloadavg()[0],
        "python": platform.python_version(),
        "aiohttp": version("aiohttp"),
        "websockets": version("websockets"),
        "kernel": platform.release(),
    }


async def attack(name: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Run one attack; its figures."""
    started = time.monotonic()
    await asyncio.to_thread((workdir / name).mkdir, parents=True, exist_ok=True)
    async with hubs(workdir / name) as h:
        figures = await RUNS[name](h, args, workdir / name)
    figures["seconds"] = round(time.monotonic() - started, 1)
    return figures


async def crash(h: Hubs, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """SIGKILL during play, SQLite (and PostgreSQL)."""
    rows = []
    dbs = [("sqlite", str(workdir / "hub.db"))]
    if args.postgres:
        dbs.append(("postgresql", args.postgres))
    for backend, db in dbs:
        r = await crash_run(h, db, kills=args.kills, players=args.players,
                            moves_between=(10, 60), seed=args.seed, backend=backend)  # fmt: skip
        rows.append({"backend": backend, "kills": r.kills, "acked": r.acked, "lost": r.lost,
                     "games": r.games, "retried": r.retried})  # fmt: skip
    return {"rows": rows}


async def frames(h: Hubs, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Malformed frames."""
    hub = await h.start(str(workdir / "hub.db"))
    r = await malformed_run(hub.ws_url, frames=args.frames, seed=args.seed, closes=5)
    return {"sent": r.sent, "answered": r.answered, "wrong": [str(w)[:300] for w in r.wrong[:10]],
            "connections": r.connections, "probes_ok": r.probes_ok,
            "closes_sent": r.closes_sent, "closes_right": r.closes_right,
            "alive": hub.running}  # fmt: skip


async def nonreader(h: Hubs, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One non-reader; then one that stops reading and reads again."""
    hub = await h.start(str(workdir / "hub.db"))
    r = await non_reader_run(hub, games=args.games, frames=3000, bound=120)
    hub2 = await h.start(str(workdir / "hub2.db"))
    code = await stops_reading_then_reads(hub2, games=args.games, frames=3000, bound=120)
    return {**asdict(r), "resumed_reader_close_code": code}


async def shutdown(h: Hubs, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """SIGTERM with non-readers holding full buffers, and with none."""
    rows = []
    for n, frames in enumerate((10, 40, 300)):
        hub = await h.start(str(workdir / f"hub{n}.db"))
        r = await shutdown_run(hub, games=args.games, non_readers=args.non_readers, frames=frames)
        rows.append(asdict(r))
    quiet = await h.start(str(workdir / "hub0.db"))
    code, seconds = await quiet.terminate()
    return {"rows": rows, "quiet_code": code, "quiet_seconds": seconds}


async def halfopen(h: Hubs, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Half-open connections at the default header timeout."""
    hub = await h.start(str(workdir / "hub.db"))
    return flood_figures(await half_open_run(hub, args.half_open, bound=60))


async def idle(h: Hubs, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Idle keep-alive connections at the default keep-alive timeout."""
    hub = await h.start(str(workdir / "hub.db"))
    return flood_figures(await idle_run(hub, args.idle, bound=150))


async def cap(h: Hubs, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Half-open connections up to --max-connections."""
    hub = await h.start(str(workdir / "hub.db"), "--max-connections", str(args.cap))
    return flood_figures(await half_open_run(hub, args.cap, bound=60, bystanders=3, ws=False))


async def silent(h: Hubs, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """WebSockets that never answer a ping."""
    hub = await h.start(str(workdir / "hub.db"), "--heartbeat", str(args.heartbeat))
    return flood_figures(await silent_peer_run(hub, args.silent, bound=60))


def flood_figures(r: Any) -> dict[str, Any]:
    """A flood's figures, with its close times summarized."""
    figures = asdict(r)
    figures.pop("closed_after")
    figures["closed_p50"], figures["closed_max"] = r.closed_p50, r.closed_max
    return figures


async def restflood(h: Hubs, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """A REST flood and too many registrations from one address, behind a trusted proxy."""
    hub = await h.start(str(workdir / "hub.db"), "--trusted-proxy", "127.0.0.1")
    r = await rest_flood_run(
        hub,
        requests=args.rest_requests,
        concurrency=32,
        bystander_moves=args.moves,
        attacker_address="203.0.113.7",
    )
    statuses, bystander = await registrations_run(hub, REGISTRATIONS + 10, "203.0.113.8")
    return {"sent": r.sent, "ok": r.ok, "limited": r.limited, "other": len(r.other),
            "seconds_flood": r.seconds, "ok_bound": r.ok_bound,
            "quiet": latency(r.quiet), "flooded": latency(r.flooded),
            "registrations": {str(s): statuses.count(s) for s in sorted(set(statuses))},
            "bystander_registration": bystander}  # fmt: skip


async def wsflood(h: Hubs, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """A WebSocket flood from one address, behind a trusted proxy."""
    hub = await h.start(str(workdir / "hub.db"), "--trusted-proxy", "127.0.0.1")
    r = await ws_flood_run(
        hub,
        connections=WS_PER_ADDRESS + 10,
        frames=args.ws_frames,
        bystander_moves=args.moves,
        attacker_address="203.0.113.9",
    )
    figures = asdict(r)
    figures["quiet"], figures["flooded"] = latency(r.quiet), latency(r.flooded)
    return figures


def latency(lat: Any) -> dict[str, Any]:
    """p50/p99 of a bystander's moves."""
    return {"moves": len(lat.samples), "failures": lat.failures,
            "p50": round(lat.p50, 1), "p99": round(lat.p99, 1)}  # fmt: skip


async def recovery(h: Hubs, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Cuts and restarts under followers."""
    r = await recovery_run(
        h,
        str(workdir / "hub.db"),
        players=4,
        spectators=3,
        cuts=args.cuts,
        cut_every=0.3,
        restart_every=args.restart_every,
        seed=args.seed,
    )
    figures = asdict(r)
    figures["not_recovered"] = len(r.not_recovered)
    figures["traces"] = [str(t)[:500] for t in r.traces[:5]]
    return figures


RUNS: dict[str, Callable[[Hubs, argparse.Namespace, Path], Awaitable[dict[str, Any]]]] = {
    "crash": crash, "frames": frames, "nonreader": nonreader, "shutdown": shutdown,
    "halfopen": halfopen, "idle": idle, "cap": cap, "silent": silent,
    "restflood": restflood, "wsflood": wsflood, "recovery": recovery,
}  # fmt: skip


async def main() -> int:
    """Run the attacks asked for, write the figures."""
    args = parse()
    if args.render:
        args.out.write_text(render(json.loads(args.render.read_text())))
        return 0
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results: dict[str, Any] = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items() if k not in ("out", "json")},
    }
    results["args"]["argv"] = " ".join(sys.argv[1:])
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rps-reliability-") as tmp:
        for name in args.only:
            print(f"-- {name}", flush=True)
            try:
                results[name] = await attack(name, args, Path(tmp))
            except Exception as exc:  # a failed attack is a figure too
                results[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            print(json.dumps(results[name], default=str)[:1500], flush=True)
    results["seconds"] = time.monotonic() - started
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    if args.out:
        args.out.write_text(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
