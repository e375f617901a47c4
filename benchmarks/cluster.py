"""The cluster's numbers (issue 10), measured in one run on this machine, each beside a reference.

1. **moves**: a move's latency (move sent -> its ``round`` event) on node 0 of a cluster of three
   beside a single node (no ``--broker``) on the same PostgreSQL, windows interleaved
   (``cluster_ab.py``);
2. **events**: lobby events to spectators on the other nodes beside those on the node that made
   them, frame ``ts`` -> receipt (``cluster_spread.py``);
3. **deadlines** and 4. **presence**: SIGKILL of a node in the middle of its games, once while
   its lobby is quiet and once while it holds the lobby lock; each round deadline's expiry and
   each of its players' ``player_left`` seen on the other nodes (``cluster_kill.py``);
5. **fanout**: a single node's CPU per delivered message (``fanout.bench_one`` at 1,000
   subscribers) at HEAD beside the commit before the cluster work, interleaved, and whether the
   delivery path's files differ between them (``cluster_ab.py``);
6. **redis**: Redis commands, publishes and pub/sub messages per lobby event with spectators
   spread over three nodes, few and 1,000, from Redis's own counters (``cluster_spread.py``).

The nodes run HEAD's committed packages (``git archive`` into the run's directory, where ``python
-m hub`` finds them first), not whatever the work tree holds.  Every cluster runs on a fresh
PostgreSQL schema (``RPS_HUB_TEST_POSTGRES``, default 127.0.0.1:5432 db test) and a private
``redis-server`` on a free port, started by the tests' harness (``tests/cluster/harness.py``),
which kills the nodes and Redis and drops the schema on the way out, also on an error, a part's
timeout, Ctrl-C or SIGTERM (not on SIGKILL of this script).  The report (``cluster_report.py``)
is Markdown for benchmarks/README.md.

Usage: ``.venv/bin/python benchmarks/cluster.py [--parts moves events kill fanout]
[--json out.json] [--keep DIR]`` and the size flags of ``--help``.  Not part of the test suite;
about 3 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchlib import raise_nofile  # noqa: E402
from cluster_ab import export, fanout_ab, moves_ab  # noqa: E402
from cluster_kill import kill  # noqa: E402
from cluster_latency import latency  # noqa: E402
from cluster_report import details, table  # noqa: E402
from cluster_spread import spread  # noqa: E402

PARTS = ("moves", "latency", "events", "kill", "fanout")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load() -> str:
    """``uptime``'s load averages."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def versions() -> dict[str, str]:
    redis = shutil.which("redis-server")
    text = (
        subprocess.run([redis, "--version"], capture_output=True, text=True, timeout=10).stdout
        if redis
        else ""
    )
    found = next((w for w in text.split() if w.startswith("v=")), "v=?")
    return {"python": platform.python_version(), "redis": found[2:], "cpus": str(os.cpu_count())}


def source(into: Path) -> Path:
    """HEAD's packages in ``into``, where every node runs (``python -m hub`` there imports them
    before the editable install): the committed code, not whatever the work tree holds now."""
    export("HEAD", into)
    found = subprocess.run(
        [sys.executable, "-c", "import hub; print(hub.__file__)"],
        cwd=into,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    if not found.startswith(str(into)):
        raise RuntimeError(f"the nodes would import the hub from {found.strip()}, not {into}")
    return into


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rps-cluster-bench-") as tmp:
        work = Path(tmp)
        if args.keep is not None:  # the nodes' logs (src/node*.log) stay there
            work = args.keep / time.strftime("%Y%m%d-%H%M%S")
            work.mkdir(parents=True)
        src = source(work / "src")
        for part in args.parts:
            started = time.monotonic()
            say(f"{part} (load {load()})")
            where = work / part
            where.mkdir()
            async with asyncio.timeout(args.part_timeout):
                if part == "moves":
                    out["moves"] = await moves_ab(src, where, args, say)
                elif part == "latency":
                    out["latency"] = await latency(src, where, args, say)
                elif part == "events":
                    out["spread"] = await spread(src, where, args, say)
                elif part == "kill":
                    out["kill"] = await kill(src, where, args, say)
                elif part == "fanout":
                    out["fanout"] = await fanout_ab(src, where, args, say)
            out.setdefault("seconds", {})[part] = round(time.monotonic() - started, 1)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument(
        "--move-players",
        type=int,
        nargs="+",
        default=[1, 4],
        help="players per moves window (each count measured apart)",
    )
    p.add_argument("--move-seconds", type=float, default=2.0, help="seconds per moves window")
    p.add_argument("--move-reps", type=int, default=4, help="windows per server and count")
    p.add_argument("--drivers", type=int, default=1, help="players making lobby events")
    p.add_argument("--watchers", type=int, default=10, help="spectators per node, latency")
    p.add_argument("--lat-events", type=int, default=150, help="paced lobby events")
    p.add_argument(
        "--lat-watchers",
        type=int,
        default=3,
        help="latency part: spectators of the lobby and of the game per node (one process)",
    )
    p.add_argument("--lat-moves", type=int, default=300, help="latency part: paced moves")
    p.add_argument("--rate", type=float, default=30.0, help="paced lobby events per second")
    p.add_argument("--spectators", type=int, default=1000, help="spectators in all, Redis counts")
    p.add_argument("--burst", type=int, default=300, help="moves in a counted burst")
    p.add_argument("--idle", type=float, default=2.0, help="seconds of background measured")
    p.add_argument("--games", type=int, default=10, help="games on the killed node")
    p.add_argument("--deadline", type=float, default=2.0, help="--round-deadline, kill part")
    p.add_argument("--grace", type=float, default=2.0, help="--grace, kill part")
    p.add_argument(
        "--busy", type=int, default=3, help="pairs changing the lobby before the lock kill"
    )
    p.add_argument("--fanout-subscribers", type=int, default=1000)
    p.add_argument("--fanout-events", type=int, default=200, help="triggers per fanout run")
    p.add_argument("--fanout-pairs", type=int, default=3, help="fanout runs per tree")
    p.add_argument("--part-timeout", type=float, default=300.0, help="seconds a part may take")
    p.add_argument(
        "--against",
        metavar="COMMIT",
        help="moves: a second cluster running COMMIT's packages, interleaved with HEAD's",
    )
    p.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy node 0 in each moves window, into DIR"
    )
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--keep", type=Path, metavar="DIR", help="keep the nodes' logs under DIR")
    args = p.parse_args()
    raise_nofile()
    env = {"date": time.strftime("%Y-%m-%d %H:%M %z"), "load_before": load(), **versions()}
    say(f"cluster benchmark {env}")
    started = time.monotonic()
    try:
        out = asyncio.run(amain(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        say("interrupted; nodes, Redis and schemas were cleaned up")
        return 130
    env["load_after"] = load()
    env["seconds"] = str(round(time.monotonic() - started))
    out["env"] = env
    print(
        f"{env['date']}, {env['cpus']} cores, Python {env['python']}, Redis {env['redis']}; "
        f"load average {env['load_before']} before, {env['load_after']} after; {env['seconds']} s"
    )
    print()
    print(table(out))
    print()
    print(details(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
