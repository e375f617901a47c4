"""The cluster benchmark's A/B parts: a move's latency on a cluster node beside a single node
(part 1), and a single node's fan-out cost at this commit beside the commit before the cluster
work (part 5).

Part 1 runs a single node (no ``--broker``) and a cluster of three on the same PostgreSQL, each
on a fresh schema, at the same time, and alternates short windows between them (single, cluster,
cluster, single, ...), for each player count of ``--move-players``.  In each window
``moves.worker_run`` plays fresh players against the computer flat out on node 0 and times each
move to its ``round`` event (the reply follows in the same write); the node's CPU (and, for the
cluster, the other nodes' and Redis's) is read from /proc around the window.  One player times a
move's own path; several show what the cluster's extra CPU per move costs once moves queue.

Part 5 runs ``fanout.bench_one`` for the hub of two source trees (``git archive`` of each commit,
so uncommitted work in the tree is left out), interleaved.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import fanout
from benchlib import cpu_seconds, percentile
from moves import register, worker_run

from tests.cluster.harness import Cluster, cluster

ROOT = Path(__file__).resolve().parent.parent
NODE_ARGS = ("--round-deadline", "0", "--grace", "0", "--heartbeat", "0", "--ws-rate", "0")
BEFORE = "f420321"  # the last commit before the cluster work (it only added the redis dependency)
# Where a lobby or game event goes from being made to the sockets of one process.
DELIVERY_PATH = ("hub/broker.py", "hub/fanout.py", "hub/topics.py", "protocol/messages.py")


def pids(c: Cluster) -> list[int]:
    """The running nodes' process ids, node 0 first."""
    return [n.hub.pid for n in c.nodes if n.hub is not None and n.running]


async def redis_commands(c: Cluster) -> float:
    """Node 0's Redis commands so far (a pipeline or a publishing write is one), from
    ``/metrics``; 0 for a single node."""
    async with aiohttp.ClientSession() as http, http.get(f"{c.url(0)}/metrics") as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith("rps_hub_cluster_redis_commands_total "):
            return float(line.split()[1])
    return 0.0


def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for ``seconds`` without pausing it, into ``out`` (collapsed
    stacks: one line per stack and its count), only while it holds the GIL: Python's own CPU,
    not its system calls nor the time it waits for a core (the machine is shared)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    cmd = [spy, "record", "--pid", str(pid), "--duration", str(math.ceil(seconds)),
           "--rate", "250", "--nonblocking", "--gil", "--format", "raw",
           "--output", str(out)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def one_window(
    c: Cluster, players: int, seconds: float, profile: Path | None = None
) -> dict[str, Any]:
    """Fresh players on node 0 playing the computer for one window; their move latencies and
    the CPU every process of ``c`` spent meanwhile (per move); with ``profile``, node 0 sampled
    by py-spy over the window into that file."""
    tokens = await register(c.url(0), players)
    warmup = 0.5
    start = time.time() + 0.2
    procs = pids(c) + ([c.redis.process.pid] if c.redis and c.redis.process else [])

    async def cpu() -> tuple[list[float], float]:
        await asyncio.sleep(max(0.0, start + warmup - time.time()))
        spy = None if profile is None else py_spy(procs[0], seconds, profile)
        before = [cpu_seconds(p) for p in procs]
        commands = await redis_commands(c)
        await asyncio.sleep(max(0.0, start + warmup + seconds - time.time()))
        spent = [cpu_seconds(p) - b for p, b in zip(procs, before, strict=True)]
        commands = await redis_commands(c) - commands
        if spy is not None:
            await asyncio.to_thread(spy.wait, 30)
        return spent, commands

    async with asyncio.timeout(seconds + warmup + 60):
        report, (spent, sent) = await asyncio.gather(
            worker_run(c.ws_url(0), list(tokens), start, seconds, warmup), cpu()
        )
    moves = report["moves"]
    per_move = [s / moves * 1e6 if moves else float("nan") for s in spent]
    lat = sorted(report["latencies"])
    return {
        "moves": moves,
        "latencies": lat,
        "p50_ms": percentile(lat, 0.5),
        "p99_ms": percentile(lat, 0.99),
        "node0_us_per_move": per_move[0],
        "others_us_per_move": sum(per_move[1 : len(pids(c))]),
        "redis_us_per_move": per_move[-1] if c.redis else 0.0,
        "node0_redis_commands_per_move": sent / moves if moves else float("nan"),
        "errors": report["errors"],
        "unavailable": report.get("unavailable", 0),
    }


def pooled(windows: list[dict[str, Any]], players: int) -> dict[str, Any]:
    """The windows of one player count: pooled percentiles per server, window-pair deltas."""
    out: dict[str, Any] = {"players": players}
    for name in ("single", "cluster", "against"):
        mine = [w for w in windows if w["server"] == name]
        if not mine:
            continue
        lat = sorted(x for w in mine for x in w["latencies"])
        out[name] = {
            "moves": len(lat),
            "p50_ms": percentile(lat, 0.5),
            "p99_ms": percentile(lat, 0.99),
            "window_p50s": [round(w["p50_ms"], 2) for w in mine],
            "node0_us_per_move": statistics.median(w["node0_us_per_move"] for w in mine),
            "others_us_per_move": statistics.median(w["others_us_per_move"] for w in mine),
            "redis_us_per_move": statistics.median(w["redis_us_per_move"] for w in mine),
            "node0_redis_commands_per_move": statistics.median(
                w["node0_redis_commands_per_move"] for w in mine
            ),
            "errors": [e for w in mine for e in w["errors"]][:3],
            "unavailable": sum(w.get("unavailable", 0) for w in mine),
        }
    pairs = [
        c["p50_ms"] - s["p50_ms"]
        for s, c in zip(
            [w for w in windows if w["server"] == "single"],
            [w for w in windows if w["server"] == "cluster"],
            strict=True,
        )
    ]
    out["p50_delta_ms"] = out["cluster"]["p50_ms"] - out["single"]["p50_ms"]
    out["window_deltas_ms"] = [round(d, 2) for d in pairs]
    out["median_window_delta_ms"] = statistics.median(pairs)
    if "against" in out:
        out["against_delta_ms"] = out["against"]["p50_ms"] - out["single"]["p50_ms"]
    return out


async def moves_ab(src: Path, work: Path, args: argparse.Namespace, say: Any) -> dict[str, Any]:
    """Part 1: single node and cluster node, interleaved windows, for each player count; with
    ``--against COMMIT`` a second cluster running that commit's packages takes its turn too."""
    windows: dict[int, list[dict[str, Any]]] = {n: [] for n in args.move_players}
    against = getattr(args, "against", None)
    async with contextlib.AsyncExitStack() as stack:
        single = await stack.enter_async_context(
            cluster(src, nodes=1, broker=False, args=NODE_ARGS)
        )
        three = await stack.enter_async_context(cluster(src, nodes=3, broker=True, args=NODE_ARGS))
        order = [("single", single), ("cluster", three)]
        if against:
            old = export(against, work / "against")
            order.append(
                ("against", await stack.enter_async_context(
                    cluster(old, nodes=3, broker=True, args=NODE_ARGS)
                ))
            )  # fmt: skip
        for rep in range(args.move_reps):
            for n in args.move_players:
                for name, c in order if rep % 2 == 0 else reversed(order):
                    spy = None
                    if args.profile is not None:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        spy = args.profile / f"{name}-{n}p-{rep + 1}.txt"
                    w = await one_window(c, n, args.move_seconds, spy)
                    say(
                        f"  moves {name:7} {n} player(s), window {rep + 1}: {w['moves']} moves, "
                        f"p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms, "
                        f"node 0 {w['node0_us_per_move']:.0f} us/move, "
                        f"{w['node0_redis_commands_per_move']:.2f} Redis commands/move, "
                        f"{w['unavailable']} games refused as the lobby was busy"
                    )
                    windows[n].append({"server": name, "rep": rep, **w})
    out: dict[str, Any] = {"seconds": args.move_seconds}
    if against:
        out["against"] = short(against)
    out["runs"] = [pooled(windows[n], n) for n in windows]
    return out


# -- part 5 ---------------------------------------------------------------------------------


def export(commit: str, into: Path) -> Path:
    """The hub's packages as of ``commit`` in ``into`` (``git archive``: no worktree needed)."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "hub", "protocol", "storage"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True, timeout=60)
    return into


def short(ref: str) -> str:
    """A commit's short hash."""
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()


def changed(paths: tuple[str, ...], a: str, b: str = "HEAD") -> list[str]:
    """Which of ``paths`` differ between commits ``a`` and ``b``."""
    names = subprocess.run(
        ["git", "-C", str(ROOT), "diff", "--name-only", a, b, "--", *paths],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return names.split()


async def fanout_ab(src: Path, work: Path, args: argparse.Namespace, say: Any) -> dict[str, Any]:
    """Part 5: ``fanout.bench_one`` for the hub at HEAD and at ``BEFORE``, A B B A ..."""
    head = short("HEAD")
    trees = {"before": export(BEFORE, work / "before"), "head": src}
    ns = argparse.Namespace(
        drivers=50,
        workers=2,
        warmup=100,
        events=args.fanout_events,
        timeout=60.0,
        latency_events=10,
        rate=20.0,
    )
    runs: list[dict[str, Any]] = []
    root = fanout.ROOT
    try:
        for i in range(args.fanout_pairs):
            for name in ("before", "head") if i % 2 == 0 else ("head", "before"):
                fanout.ROOT = trees[name]  # fanout.start_server runs `python -m hub` there
                tmp = work / f"fanout-{name}-{i}"
                tmp.mkdir()
                r = await fanout.bench_one("hub", args.fanout_subscribers, ns, tmp)
                say(
                    f"  fanout {name:6} run {i + 1}: {r.us_per_msg:.2f} us/msg, "
                    f"{r.delivered:,}/{r.expected:,} delivered ({'; '.join(r.notes)})"
                )
                runs.append(
                    {
                        "tree": name,
                        "us_per_msg": r.us_per_msg,
                        "delivered": r.delivered,
                        "expected": r.expected,
                        "notes": r.notes,
                    }
                )
    finally:
        fanout.ROOT = root
    out: dict[str, Any] = {
        "subscribers": args.fanout_subscribers,
        "head": head,
        "before": BEFORE,
        "delivery_path_changed": changed(DELIVERY_PATH, BEFORE),
        "runs": runs,
    }
    for name in ("before", "head"):
        out[f"{name}_us_per_msg"] = statistics.median(
            r["us_per_msg"] for r in runs if r["tree"] == name
        )
    out["ratio"] = out["head_us_per_msg"] / out["before_us_per_msg"]
    # How far apart runs of the same tree came: the noise a ratio must be read against.
    out["spread"] = max(
        (max(xs) - min(xs)) / statistics.median(xs)
        for xs in ([r["us_per_msg"] for r in runs if r["tree"] == t] for t in trees)
    )
    return out
