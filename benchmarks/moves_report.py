"""The report of ``moves.py``: one server's figures over a window (``Result``), the table of a
run with each server's ratios against the references, and its plot."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import fmt


@dataclass
class Result:
    server: str
    players: int
    seconds: float = 0.0
    moves: int = 0
    cpu_s: float = 0.0
    us_per_move: float = math.nan
    moves_per_s: float = math.nan
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    rate_limited: int = 0
    saves_per_batch: float = math.nan  # the hub's group commit over the window
    loop_us_per_move: float = math.nan  # the server's main thread (its event loop) alone
    client_us_per_move: float = math.nan  # the players' worker processes' CPU over the window
    sys_us_per_move: float = math.nan  # the server's system time alone (in µs CPU/move)
    # On PostgreSQL: the CPU of every PostgreSQL server process over the window (the server's
    # backend does the database's work there, in a process of its own).
    db_us_per_move: float = math.nan
    # Bytes the server wrote with write()/pwrite() (/proc io: its files, the WAL and the database;
    # asyncio sends on sockets with send(), which is not counted there), and how many such calls.
    written_per_move: float = math.nan
    writes_per_move: float = math.nan
    # Context switches of the server's threads (voluntary and not): each hand-over of the GIL
    # between the event loop and a database thread that had to wait for it is one or two.
    switches_per_move: float = math.nan
    notes: list[str] = field(default_factory=list)


def table(results: list[Result]) -> str:
    lines = [
        "| server | players | µs CPU/move | loop µs | system µs | clients µs | PostgreSQL µs"
        " | moves/s | p50 ms | p99 ms | file bytes | saves a batch | switches |",
        "| --- |" + " ---: |" * 12,
    ]
    for r in results:
        lines.append(
            f"| {r.server} | {r.players:,} | {fmt(r.us_per_move, 0)} | {fmt(r.loop_us_per_move, 0)}"
            f" | {fmt(r.sys_us_per_move, 0)} | {fmt(r.client_us_per_move, 0)}"
            f" | {fmt(r.db_us_per_move, 0)} | {fmt(r.moves_per_s, 0)}"
            f" | {fmt(r.p50_ms)} | {fmt(r.p99_ms)}"
            f" | {fmt(r.written_per_move, 0)} | {fmt(r.saves_per_batch)}"
            f" | {fmt(r.switches_per_move)} |"
        )
    by: dict[tuple[str, int], list[Result]] = {}
    for r in results:
        if r.us_per_move > 0 and r.moves_per_s > 0:
            by.setdefault((r.server, r.players), []).append(r)
    for n in sorted({r.players for r in results}):
        servers = (r.server for r in results if not r.server.startswith(("reference", "lean")))
        for kind in dict.fromkeys(servers):
            # Against the reference on the same event loop (and the lean one, when it ran); on
            # PostgreSQL against the reference on PostgreSQL, when it ran.
            base, at, loop = kind.partition("@")
            for yardstick in ("reference", "lean"):
                refs = by.get((f"{yardstick}-pg{at}{loop}", n), []) if base.endswith("-pg") else []
                refs = refs or by.get((f"{yardstick}{at}{loop}", n), [])
                hubs = by.get((kind, n), [])
                if hubs and refs:  # every row of the server against every row of its reference
                    cpu = span([h.us_per_move / r.us_per_move for h in hubs for r in refs])
                    rate = span([h.moves_per_s / r.moves_per_s for h in hubs for r in refs])
                    line = (
                        f"\n{kind} at {n:,} players: CPU/move {cpu} the {refs[0].server},"
                        f" moves/s {rate}"
                    )
                    # The i-th row of each beside the other: with ``--servers hub reference hub
                    # reference`` the pairs measured one after the other, the least noisy.
                    if len(hubs) == len(refs) > 1:
                        pairs = zip(hubs, refs, strict=True)
                        ratios = [h.moves_per_s / r.moves_per_s for h, r in pairs]
                        each = ", ".join(f"{x:.2f}" for x in ratios)
                        line += f" (pairs in the order they ran: {each}"
                        # One pair swings by ±15% on a shared machine; the middle one of
                        # several is what the targets are read against.
                        if len(ratios) > 2:
                            line += f"; median {statistics.median(ratios):.2f}"
                        line += ")"
                    lines.append(line)
    return "\n".join(lines)


def span(ratios: list[float]) -> str:
    """``1.40x``, or ``1.40-1.43x`` when the rows differ."""
    low, high = f"{min(ratios):.2f}", f"{max(ratios):.2f}"
    return f"{low}x" if low == high else f"{low}-{high}x"


def plot(results: list[Result], path: Path) -> None:
    import matplotlib  # optional: only for --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for kind in dict.fromkeys(r.server for r in results):
        rows = sorted((r for r in results if r.server == kind), key=lambda r: r.players)
        xs = [r.players for r in rows]
        axes[0].plot(xs, [r.us_per_move for r in rows], marker="o", label=kind)
        axes[1].plot(xs, [r.moves_per_s for r in rows], marker="o", label=kind)
        axes[2].plot(xs, [r.p99_ms for r in rows], marker="o", label=kind)
    titles = ("server process µs CPU per move", "moves/s", "p99 move → round, ms")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("concurrent players")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
