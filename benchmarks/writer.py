"""What the SQLite writer (or PostgreSQL's batch) spends per move, alone: the store's batches
without sockets or a hub.

``--games`` games against the computer (rps3, best of 15) move in lockstep, deterministically
(a seeded ``random.Random``): each step every game takes one move, and the step's saves go to
``SQLiteStorage``'s writer together, as the hub's group commit would take them at that many
players; a finished game is replaced by a new one (``create_game``).  The games, events and rows
are the hub's own (``protocol.game``, ``hub.topics``' event records, ``storage.sql``), and so
are the games' ids (``hub.entropy.sortable_id``: they sort by the step's time; ``--random-ids``
for random ones, as the hub's were before).

It reports, per move, the CPU of the writer's database thread (``/proc`` per thread) and of the
whole process; under ``valgrind --tool=callgrind`` (``--callgrind``) the instruction count, which
the machine's load does not move, so a change to the schema or the statements can be measured
on a busy machine (the count of the writer's thread is the same to 0.1% from run to run).
``--sql STMT`` runs statements on the database before the run (a schema change tried before its
migration is written), ``--writer-sql STMT`` on the writer's own connection (a ``PRAGMA``).

``--pg URL`` stores on PostgreSQL instead (``PostgresStorage``, a fresh schema, dropped after the
run; ``--sql`` runs in that schema): it reports PostgreSQL's CPU a move too (every ``postgres``
process, as ``moves.py`` counts it), the share of the games' row updates that were HOT (no new
index entries: PostgreSQL's ``n_tup_hot_upd``), and the process's, which is the hub's event
loop's work for the batch there (asyncpg runs on the loop).  ``--round-seconds S`` gives every
round a deadline, as ``serve`` does (each round then moves its game's deadline).

Usage: ``.venv/bin/python benchmarks/writer.py [--games 100] [--moves 20000] [--callgrind]
[--random-ids] [--round-seconds S] [--sql STMT ...] [--writer-sql STMT ...] [--pg URL]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import asyncpg
from benchlib import postgres_seconds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.entropy import sortable_id  # noqa: E402 - after the path is set
from protocol.game import COMPUTER, Game  # noqa: E402
from protocol.rules import builtin_rules  # noqa: E402
from protocol.wire import effect_event  # noqa: E402
from storage.base import Storage, StoredEvent  # noqa: E402
from storage.open import open_storage  # noqa: E402
from storage.sqlite import SQLiteStorage  # noqa: E402

ROLLS = ("Rock", "Paper", "Scissors")
Saves = list[tuple[Game, list[StoredEvent]]]


def io() -> tuple[int, int, int]:
    """Bytes this process has written through system calls, how many such calls, and how many
    reading calls."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["wchar"]), int(fields["syscw"]), int(fields["syscr"])


def thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each thread of this process, by thread id."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


class Table:
    """Games moving in lockstep, their events numbered as the hub numbers them."""

    def __init__(
        self, n: int, rng: random.Random, random_ids: bool = False, round_seconds: int = 0
    ) -> None:
        self.rng = rng
        self.random_ids = random_ids
        self.round_seconds = round_seconds
        self.rules = builtin_rules()["rps3"]
        self.seqs: dict[str, int] = {}
        self.clock = 1_800_000_000_000
        self.serial = 0
        self.games: list[Game] = []
        self.fresh: Saves = [self.start() for _ in range(n)]

    def events(self, game: Game, effects: list[object]) -> list[StoredEvent]:
        last = self.seqs.get(game.id, 0)
        out = []
        for i, effect in enumerate(effects, start=last + 1):
            name, data = effect_event(effect)  # type: ignore[arg-type]
            out.append(StoredEvent(seq=i, ts=self.clock, event=name, data=data))
        self.seqs[game.id] = out[-1].seq
        return out

    def new_id(self) -> str:
        """A game's id as the hub makes it (``hub.entropy.sortable_id``: the step's time, then
        random characters, here from the seeded source); with ``--random-ids`` 12 random
        characters, as the hub's were before (their rows spread over the indexes' pages)."""
        if self.random_ids:
            return base64.urlsafe_b64encode(self.rng.randbytes(9)).decode()
        return sortable_id(self.clock, self.rng)

    def start(self) -> tuple[Game, list[StoredEvent]]:
        self.serial += 1
        game, effects = Game.start(
            id=self.new_id(),
            rules=self.rules,
            best_of=15,
            players=(f"player{self.serial % 1000:04d}", COMPUTER),
            now=self.clock,
            rng=self.rng,
            epoch="e",
            round_seconds=self.round_seconds,
        )
        return game, self.events(game, list(effects))

    def step(self) -> tuple[Saves, Saves]:
        """One move of every game: (saves of moved games, creations of new games)."""
        self.clock += 7
        created, self.fresh = self.fresh, []
        moved = []
        for game in self.games:
            _, effects = game.move(
                game.players[0], self.rng.choice(ROLLS), game.round, now=self.clock, rng=self.rng
            )
            moved.append((game, self.events(game, list(effects))))
        self.games = [g for g, _ in created] + [g for g, _ in moved if not g.is_over]
        self.fresh = [self.start() for g, _ in moved if g.is_over]
        return moved, created


async def run(args: argparse.Namespace, path: str) -> dict[str, float]:
    if args.pg:
        schema = f"bench_{os.urandom(4).hex()}"
        sep = "&" if "?" in args.pg else "?"
        admin = await asyncpg.connect(args.pg)
        try:
            store = await open_storage(f"{args.pg}{sep}schema={schema}")
            try:
                await admin.execute(f'SET search_path TO "{schema}"')
                for statement in args.sql:
                    await admin.execute(statement)
                row = await measure(args, store)  # closes the store: its stats are flushed
                hot = await admin.fetchrow(
                    "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                    " WHERE relid = 'games'::regclass"
                )
                row["hot"] = hot["n_tup_hot_upd"] / max(hot["n_tup_upd"], 1)
                return row
            finally:
                await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await admin.close()
    sqlite = await SQLiteStorage.open(path)
    if args.sql:
        raw = sqlite3.connect(path, isolation_level=None)
        for statement in args.sql:
            raw.execute(statement)
        raw.close()
    for statement in args.writer_sql:  # on the writer's own connection (a PRAGMA, say)
        await sqlite._backend._writer.execute(statement)  # type: ignore[attr-defined]
    return await measure(args, sqlite)


async def measure(args: argparse.Namespace, store: Storage) -> dict[str, float]:
    """Run the games through ``store`` (closed after); the window's figures a move."""
    table = Table(args.games, random.Random(args.seed), args.random_ids, args.round_seconds)
    moves = 0
    before: dict[int, float] = {}
    t0 = p0 = 0.0
    io0 = (0, 0, 0)
    main = threading.get_native_id()
    try:
        for step in range(args.warmup + 10**9):
            if step == args.warmup:
                instrument("on")
                before, t0, p0 = thread_cpu(), time.perf_counter(), time.process_time()
                io0 = io()
                pg0 = postgres_seconds() if args.pg else {}
                moves = 0
            moved, created = table.step()
            await asyncio.gather(
                *(store.create_game(g, e) for g, e in created),
                *(store.save_game(g, e) for g, e in moved),
            )
            moves += len(moved)
            if step >= args.warmup and moves >= args.moves:
                break
        after, t1, p1 = thread_cpu(), time.perf_counter(), time.process_time()
        io1 = io()
        pg1 = postgres_seconds() if args.pg else {}
        instrument("off")
    finally:
        await store.close()
    spent = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    others = sum(v for tid, v in spent.items() if tid != main)
    return {
        "moves": moves,
        "process_us": (p1 - p0) / moves * 1e6,
        "loop_us": spent.get(main, 0.0) / moves * 1e6,
        "threads_us": others / moves * 1e6,
        "wall_us": (t1 - t0) / moves * 1e6,
        "written": (io1[0] - io0[0]) / moves,
        "writes": (io1[1] - io0[1]) / moves,
        "reads": (io1[2] - io0[2]) / moves,
        "postgres_us": sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items()) / moves * 1e6,
    }


def instrument(state: str) -> None:
    """Under ``--callgrind``, switch callgrind's counting ``on`` or ``off`` (the window only)."""
    if os.environ.get("WRITER_CALLGRIND"):
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip


def callgrind(argv: list[str]) -> int:
    """Run this script under callgrind, counting the window only; print instructions per move
    of each thread (the first is the event loop's, the one with most of the rest SQLite's)."""
    with tempfile.TemporaryDirectory(prefix="rps-callgrind-") as tmp:
        out = Path(tmp) / "cg.out"
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
               f"--callgrind-out-file={out}", sys.executable, __file__,
               *[a for a in argv if a != "--callgrind"]]  # fmt: skip
        env = {**os.environ, "WRITER_CALLGRIND": "1"}
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        print(done.stdout.strip())
        moves = int(done.stdout.split()[0])
        totals = []
        for part in sorted(Path(tmp).glob("cg.out-*")):
            lines = part.read_text().splitlines()
            counts = [int(x.split()[1]) for x in lines if x.startswith(("summary:", "totals:"))]
            totals.append(max(counts, default=0))
        busy = [t for t in totals if t > 0]
        each = ", ".join(f"{t / moves:,.0f}" for t in busy)
        print(f"instructions per move by thread (loop first): {each}; all {sum(busy) / moves:,.0f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=100)
    parser.add_argument("--moves", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=30, help="steps before the measure")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sql", nargs="*", default=[], help="statements to run first")
    parser.add_argument("--writer-sql", nargs="*", default=[],
                        help="statements to run first on the writer's connection")  # fmt: skip
    parser.add_argument("--db", help="the database file (default: a temporary one)")
    parser.add_argument("--pg", metavar="URL", help="store on PostgreSQL, in a fresh schema")
    parser.add_argument("--random-ids", action="store_true",
                        help="games' ids random, as before time-ordered ids")  # fmt: skip
    parser.add_argument("--round-seconds", type=int, default=0, metavar="S",
                        help="each round's deadline, as serve's (default 0: none)")  # fmt: skip
    parser.add_argument("--callgrind", action="store_true",
                        help="count instructions under valgrind's callgrind (slow)")  # fmt: skip
    args = parser.parse_args()
    if args.callgrind:
        return callgrind(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="rps-writer-") as tmp:
        path = args.db or str(Path(tmp) / "writer.db")
        row = asyncio.run(run(args, path))
    print(
        f"{row['moves']:.0f} moves, {args.games} games a batch: "
        f"process {row['process_us']:.1f} µs/move (loop thread {row['loop_us']:.1f}, "
        f"database threads {row['threads_us']:.1f}), wall {row['wall_us']:.1f} µs/move; "
        f"{row['written']:,.0f} bytes in {row['writes']:.1f} writes, {row['reads']:.1f} reads"
        " per move"
        + (
            f"; PostgreSQL {row['postgres_us']:.1f} µs/move, {row['hot']:.0%} of the games'"
            " updates HOT (the whole run)"
            if args.pg
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
