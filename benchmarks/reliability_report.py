"""``docs/reliability.md`` from the figures of one run of ``reliability.py``: the run, one line
per attack, each attack's section (``reliability_sections.py``) and what is not measured."""

from __future__ import annotations

from typing import Any

from reliability_sections import (
    conns_section,
    crash_section,
    figures_of,
    floods_section,
    frames_section,
    nonreader_section,
    num,
    recovery_section,
)


def render(results: dict[str, Any]) -> str:
    """``docs/reliability.md`` from the figures of one run."""
    m = results["machine"]
    a = results["args"]
    out = [
        "# Reliability: the attacks, and what the hub did",
        "",
        "Every figure below comes from one run of `benchmarks/reliability.py` (the long versions",
        "of the attacks in `tests/reliability/`, which CI runs in short versions with the same",
        "code). Each attack starts its own `python -m hub serve` processes on 127.0.0.1, on a",
        "fresh SQLite file unless said otherwise, and is bounded in count and in time.",
        "",
        f"- Run: {m['date']}, commit `{m['commit']}`"
        + (" plus uncommitted changes in the work tree" if m["dirty"] else "")
        + ".",
        f"- Machine: {m['cpus']} shared cores (other work ran beside it; load average "
        f"{m['load']:.2f} at the start), Linux {m['kernel']}, Python {m['python']}, aiohttp "
        f"{m['aiohttp']}, websockets {m['websockets']}. Clients and hub share those cores, so "
        "latencies are those of a busy small machine, not of the hub alone.",
        f"- Command: `{('.venv/bin/python benchmarks/reliability.py ' + a['argv']).strip()}` "
        f"(seed {a['seed']}); the run took {results.get('seconds', 0) / 60:.1f} minutes.",
        "",
    ]
    out += _glance(results)
    out += (
        crash_section(results)
        + frames_section(results)
        + nonreader_section(results)
        + conns_section(results)
    )
    out += floods_section(results) + recovery_section(results) + SCOPE
    return "\n".join(out) + "\n"


SCOPE = [
    "## In CI, and what is not measured here",
    "",
    "`tests/reliability/` runs every attack above in a short version against real processes",
    "(3 SIGKILLs per backend, 425 malformed frames, 200-socket floods with 4 s timeouts, a",
    "REST flood and a WebSocket flood while a bystander makes 15 moves, 12 cuts and 3",
    "restarts) in under a minute, and asserts invariants and counts",
    "only: nothing acknowledged lost, every frame answered as specified, every flooding socket",
    "closed, every bystander request served, 429 past each per-address limit, the process",
    "exited 0. The timings in this document are measurements, never assertions.",
    "",
    "Not measured here: PostgreSQL under the attacks other than SIGKILL; several hub nodes;",
    "IPv6 clients; TLS; the legacy API, REST bodies, Origin and Host checks, `--drain` and",
    "the CLI's usage errors (each has its own tests elsewhere in `tests/`); floods from many",
    "addresses at once (one test machine is one address, even behind the trusted proxy).",
    "",
    "Found by the CI tests after this run, and fixed since (not measured here): on a keep-alive",
    "connection, a second request whose headers stopped halfway was closed only by the",
    "keep-alive timeout (75 s), not the header timeout (10 s)",
    "(`tests/reliability/test_conns.py::test_a_keep_alive_connection_whose_next_request_stops_"
    "halfway_is_closed`).",
]


def _glance(results: dict[str, Any]) -> list[str]:
    """One line per attack that ran."""
    out = ["## At a glance", ""]
    c = figures_of(results, "crash")
    if c and "rows" in c:
        for r in c["rows"]:
            acked = r["acked"]["ws"] + r["acked"]["rest"]
            lost = r["lost"]["ws"] + r["lost"]["rest"]
            out.append(f"- {r['kills']} SIGKILLs on {r['backend']}: {lost} of {acked:,} "
                       "acknowledged moves lost.")  # fmt: skip
    f = figures_of(results, "frames")
    if f and "sent" in f:
        out.append(f"- Malformed frames: {f['answered']:,} of {f['sent']:,} answered as specified; "
                   f"{f['closes_right']} of {f['closes_sent']} closing frames closed "
                   "with the right code.")  # fmt: skip
    n = figures_of(results, "nonreader")
    if n and "released_after" in n:
        out.append(f"- A client that never reads: let go after {num(n['released_after'])} s.")
    sd = figures_of(results, "shutdown")
    if sd and "rows" in sd:
        worst = max(r["seconds"] for r in sd["rows"])
        codes = ", ".join(str(c) for c in sorted({r["code"] for r in sd["rows"]}))
        out.append(f"- SIGTERM with non-readers connected: exit code {codes}, within "
                   f"{num(worst)} s.")  # fmt: skip
    for name in ("halfopen", "idle", "cap", "silent"):
        r = figures_of(results, name)
        if r and "closed" in r:
            out.append(f"- {r['kind']} flood ({name}): {r['closed']:,} of {r['opened']:,} closed "
                       f"by the hub, the last after {num(r['closed_max'])} s; bystander answered "
                       f"{', '.join(str(x) for x in r['bystander_http'])}.")  # fmt: skip
    r = figures_of(results, "restflood")
    if r and "ok" in r:
        out.append(f"- REST flood from one address: {r['ok']} answered 200 (the protocol's most: "
                   f"{num(r['ok_bound'], 0)}), {r['limited']:,} answered 429; bystander p50 "
                   f"{r['quiet']['p50']} → {r['flooded']['p50']} ms "
                   f"({r['quiet']['failures'] + r['flooded']['failures']} failures).")  # fmt: skip
    w = figures_of(results, "wsflood")
    if w and "opened" in w:
        out.append(f"- WebSocket flood from one address: {w['opened']} open at most, "
                   f"{num(w['closed_1008'])} closed 1008; bystander p50 {w['quiet']['p50']} → "
                   f"{w['flooded']['p50']} ms ({w['quiet']['failures'] + w['flooded']['failures']}"
                   " failures).")  # fmt: skip
    rc = figures_of(results, "recovery")
    if rc and "lost" in rc:
        out.append(f"- {rc['cuts']} connection cuts and {rc['kills'] + rc['terms']} restarts: "
                   f"{rc['lost']} game events lost, {rc['duplicated']} received twice, of "
                   f"{rc['events']:,}.")  # fmt: skip
    return [*out, ""]
