"""The fan-out benchmark's result for one (server, N) and its report: a table of the figures and
how each was measured."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from benchlib import fmt


@dataclass
class Result:
    server: str
    n: int
    connected: int = 0
    events: int = 0
    lobby_events: int = 0
    delivered: int = 0
    expected: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    us_per_msg: float = math.nan
    msgs_per_s: float = math.nan
    client_cpu_us_per_msg: float = math.nan
    idle_us_per_event: float = math.nan
    lat_events: int = 0
    lat_delivered: int = 0
    lat_expected: int = 0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    kb_per_conn: float = math.nan
    rate_limited: int = 0
    notes: list[str] = field(default_factory=list)


def table(results: list[Result]) -> str:
    lines = [
        "| server | N | µs/msg | msgs/s | p50 ms | p99 ms | KB/idle conn |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.server} | {r.n:,} | {fmt(r.us_per_msg, 2)} | {fmt(r.msgs_per_s, 0)} "
            f"| {fmt(r.p50_ms)} | {fmt(r.p99_ms)} | {fmt(r.kb_per_conn)} |"
        )
    by = {(r.server, r.n): r for r in results}
    for n in sorted({r.n for r in results}):
        for at in ("", "@uvloop", "@asyncio"):  # each hub against the baseline on its loop
            hub, base = by.get((f"hub{at}", n)), by.get((f"baseline{at}", n))
            if not (hub and base and base.us_per_msg > 0):
                continue
            lines.append(
                f"\nN={n:,}: hub{at}/baseline{at} µs/msg = {hub.us_per_msg / base.us_per_msg:.2f} "
                f"(msgs/s {hub.msgs_per_s / base.msgs_per_s:.2f}, "
                f"KB/conn {hub.kb_per_conn / base.kb_per_conn:.2f})"
            )
    return "\n".join(lines)


def net_us_per_msg(r: Result) -> float:
    """µs/msg after subtracting the per-trigger cost measured with no subscribers."""
    if not r.delivered or math.isnan(r.idle_us_per_event):
        return math.nan
    return (r.cpu_s * 1e6 - r.idle_us_per_event * r.events) / r.delivered


def details(results: list[Result]) -> str:
    out = []
    for r in results:
        out.append(
            f"- {r.server} N={r.n}: {r.events} triggers -> {r.lobby_events} lobby events, "
            f"{r.delivered:,} msgs in {r.seconds:.2f} s, server {r.cpu_s:.2f} CPU-s, "
            f"clients {fmt(r.client_cpu_us_per_msg)} µs/msg, "
            f"{fmt(r.idle_us_per_event, 0)} µs/trigger with 0 subscribers "
            f"(so ≈{fmt(net_us_per_msg(r), 2)} µs/msg net of it); latency over "
            f"{r.lat_events} events, max {fmt(r.max_ms)} ms; RSS {r.rss_before_kb:,} -> "
            f"{r.rss_after_kb:,} KB; rate-limited retries {r.rate_limited}; " + "; ".join(r.notes)
        )
    return "\n".join(out)
