"""Lobby fan-out benchmark: rps-hub beside a bare aiohttp serialize-once server, in one run.

For each server and each N (lobby spectators), the script starts the server as a subprocess on a
free 127.0.0.1 port, opens N WebSocket clients (``websockets``, spread over worker processes)
that subscribe to ``lobby``, and measures

- KB per idle connection: (server VmRSS with the N clients open and subscribed - before) / N;
- a throughput phase: driver connections trigger M events as fast as their replies come back;
  server CPU (utime+stime of the server process from /proc) / lobby events counted at the clients
  gives µs/msg, and delivered messages / (last receipt - start) gives msgs/s;
- a latency phase: events at a fixed rate (default 10/s); latency = client receipt time - the
  event's ``ts`` (unix ms, stamped by the server at publish; ms resolution).

The hub is driven over its wire protocol only: drivers register (POST /api/players),
``auth``, ``play`` against the computer and send ``move``s; every resolved round publishes one
lobby ``game_updated`` (the hub runs with ``--summary-interval 0``; by default a game's summaries
are at most one a second), and game starts and ends add ``game_started``/``game_finished``/
``player_status``; all lobby events are counted.  The baseline (``baseline_server.py``) answers
any non-subscribe request by broadcasting one ~256 B event.

Usage: ``.venv/bin/python benchmarks/fanout.py [--subscribers 100 1000] [--events M] [--rate 10]
[--json out.json]``.  Not part of the test suite.  The subscribers' worker processes are in
``fanout_workers.py``, the drivers in ``fanout_drivers.py``, the result and its report in
``fanout_report.py``, what every benchmark shares (/proc, ports, server processes, number format)
in ``benchlib.py``; ``moves.py`` imports those helpers from here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchlib import (
    cpu_seconds,
    die_with_parent,
    fmt,
    free_port,
    no_nan,
    percentile,
    raise_nofile,
    rss_kb,
    stop_server,
    wait_listening,
)
from fanout_drivers import (
    BaselineDriver,
    Driver,
    drive_burst,
    drive_paced,
    latest_seq,
    make_drivers,
    open_ws,
)
from fanout_report import Result, details, table
from fanout_workers import WorkerHandle

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def start_server(kind: str, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    """``hub`` or ``baseline`` on ``port``; ``KIND@asyncio`` or ``KIND@uvloop`` on that event loop
    (without it each runs on its default: uvloop when installed)."""
    kind, _, loop = kind.partition("@")
    if kind == "hub":
        db = tmp / f"bench-{port}.db"
        cmd = [sys.executable, "-m", "hub", "serve", "--port", str(port), "--db", str(db),
               "--round-deadline", "0", "--grace", "0", "--heartbeat", "0",
               "--summary-interval", "0", "--log-level", "WARNING"]  # fmt: skip
    else:
        cmd = [sys.executable, str(HERE / "baseline_server.py"), "--port", str(port)]
    if loop:
        cmd += ["--loop", loop]
    log = open(tmp / f"{kind}-{port}.log", "wb")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
    finally:
        log.close()


async def gather_workers(
    workers: list[WorkerHandle], *cmd: object, patience: float = 120
) -> list[Any]:
    return list(await asyncio.gather(*(w.call(*cmd, patience=patience) for w in workers)))


async def phase(
    workers: list[WorkerHandle],
    control: Driver,
    pid: int,
    record: bool,
    drive: Callable[[], Awaitable[None]],
    patience: float,
) -> dict[str, Any]:
    """Run ``drive`` and wait until every subscriber has every lobby event it caused."""
    lo = await latest_seq(control)
    await gather_workers(workers, "window", lo, record)
    cpu0 = cpu_seconds(pid)
    wcpu0 = sum(cpu_seconds(w.proc.pid) for w in workers)
    t0 = time.time()
    await drive()
    hi = await latest_seq(control)
    reports = await gather_workers(workers, "wait", hi, patience, patience=patience + 30)
    cpu1 = cpu_seconds(pid)
    wcpu1 = sum(cpu_seconds(w.proc.pid) for w in workers)
    return {
        "lobby_events": hi - lo,
        "delivered": sum(r["delivered"] for r in reports),
        "behind": sum(r["behind"] for r in reports),
        "closed": sorted({c for r in reports for c in r["closed"]}),
        "seconds": max(r["last_t"] for r in reports) - t0,
        "cpu_s": cpu1 - cpu0,
        "client_cpu_s": wcpu1 - wcpu0,
        "latencies": [x for r in reports for x in r["latencies"]],
    }


async def bench_one(kind: str, n: int, args: argparse.Namespace, tmp: Path) -> Result:
    res = Result(kind, n)
    started = time.monotonic()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(kind, port, tmp)
    workers: list[WorkerHandle] = []
    drivers: list[Driver] = []
    control: Driver | None = None
    try:
        await wait_listening(proc, port)
        pid = proc.pid
        drivers = await make_drivers(kind.partition("@")[0], base, args.drivers)
        control = BaselineDriver(await open_ws(base.replace("http", "ws", 1) + "/ws"))

        # Warm-up without subscribers: loads lazy code paths; gives the per-event fixed cost.
        cpu0 = cpu_seconds(pid)
        await drive_burst(drivers, args.warmup)
        res.idle_us_per_event = (cpu_seconds(pid) - cpu0) / args.warmup * 1e6
        await asyncio.sleep(0.3)
        res.rss_before_kb = rss_kb(pid)

        ctx = mp.get_context("spawn")
        nw = max(1, min(args.workers, n))
        shares = [n // nw + (i < n % nw) for i in range(nw)]
        workers = [WorkerHandle(ctx, base.replace("http", "ws", 1) + "/ws", k, 50) for k in shares]
        reports = await gather_workers(workers, "connect")
        res.connected = sum(r["connected"] for r in reports)
        if res.connected != n:
            errors = [e for r in reports for e in r["errors"]]
            res.notes.append(f"ONLY {res.connected}/{n} CONNECTED, e.g. {errors[:2]}")
        if any(r["deflate"] for r in reports):
            res.notes.append("permessage-deflate was negotiated")
        await asyncio.sleep(0.5)
        res.rss_after_kb = rss_kb(pid)
        res.kb_per_conn = (res.rss_after_kb - res.rss_before_kb) / max(1, res.connected)

        # Throughput: M events as fast as the drivers' replies come back.
        events = args.events or max(200, min(2000, 200_000 // n))
        res.events = events
        tp = await phase(
            workers, control, pid, False, lambda: drive_burst(drivers, events), args.timeout
        )
        res.lobby_events = tp["lobby_events"]
        res.delivered = tp["delivered"]
        res.expected = tp["lobby_events"] * res.connected
        res.seconds = tp["seconds"]
        res.cpu_s = tp["cpu_s"]
        if res.delivered:
            res.us_per_msg = tp["cpu_s"] / res.delivered * 1e6
            res.client_cpu_us_per_msg = tp["client_cpu_s"] / res.delivered * 1e6
        if res.seconds > 0:
            res.msgs_per_s = res.delivered / res.seconds
        if res.delivered != res.expected or tp["closed"]:
            res.notes.append(
                f"throughput: {res.delivered}/{res.expected} delivered, "
                f"{tp['behind']} behind, close codes {tp['closed']}"
            )

        # Latency at a fixed rate, from one driver.
        res.lat_events = args.latency_events
        lat = await phase(
            workers,
            control,
            pid,
            True,
            lambda: drive_paced(drivers[0], args.latency_events, args.rate),
            args.timeout,
        )
        xs = sorted(lat["latencies"])
        res.lat_delivered, res.lat_expected = lat["delivered"], lat["lobby_events"] * res.connected
        res.p50_ms, res.p99_ms = percentile(xs, 0.50), percentile(xs, 0.99)
        res.max_ms = xs[-1] if xs else math.nan
        if res.lat_delivered != res.lat_expected or lat["closed"]:
            res.notes.append(
                f"latency: {res.lat_delivered}/{res.lat_expected} delivered, "
                f"close codes {lat['closed']}"
            )
        res.rate_limited = sum(d.rate_limited for d in drivers)
    finally:
        for w in workers:
            with contextlib.suppress(Exception):
                await w.call("close", patience=20)
        for w in workers:
            w.stop()
        for d in [*drivers, *([control] if control else [])]:
            await d.close()
        stop_server(proc)
    res.notes.append(f"{time.monotonic() - started:.0f} s")
    return res


async def amain(args: argparse.Namespace) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory(prefix="rps-fanout-") as tmp:
        for n in args.subscribers:
            for kind in args.servers:
                r = await bench_one(kind, n, args, Path(tmp))
                print(f"  {kind:8} N={n:<5} {fmt(r.us_per_msg, 2)} µs/msg, "
                      f"{fmt(r.msgs_per_s, 0)} msgs/s, p50 {fmt(r.p50_ms)} ms, "
                      f"p99 {fmt(r.p99_ms)} ms, {fmt(r.kb_per_conn)} KB/conn"
                      f"  ({'; '.join(r.notes)})", file=sys.stderr, flush=True)  # fmt: skip
                results.append(r)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--events", type=int, default=0,
        help="throughput-phase triggers (default: 200,000/N, within 200..2,000)",
    )  # fmt: skip
    parser.add_argument("--rate", type=float, default=10.0, help="latency phase events/s")
    parser.add_argument("--latency-events", type=int, default=100)
    parser.add_argument("--drivers", type=int, default=50, help="driver connections")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--warmup", type=int, default=200, help="triggers with 0 subscribers")
    parser.add_argument("--timeout", type=float, default=60.0, help="delivery wait, s")
    parser.add_argument("--servers", nargs="+", default=["hub", "baseline"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    nofile = raise_nofile()
    need = max(args.subscribers) + args.drivers + 64
    if nofile < need:
        print(f"warning: RLIMIT_NOFILE is {nofile}, below {need}", file=sys.stderr)
    print(f"fan-out benchmark, {os.cpu_count()} CPUs, Python {platform.python_version()}",
          file=sys.stderr)  # fmt: skip
    try:
        results = asyncio.run(amain(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(table(results))
    print()
    print(details(results))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "args": {
                        k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                    },
                    "results": [no_nan(asdict(r)) for r in results],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
