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
        if "against" in m:
            a = m["against"]
            rows.append(
                (
                    f"… the same, a cluster at {moves.get('against', '?')} in the same run "
                    f"({a['moves']:,} moves)",
                    "(before this work)",
                    f"p50 {a['p50_ms']:.2f} ms ({m['against_delta_ms']:+.2f} beside the single "
                    f"node); CPU per move on node 0 {fmt(a['node0_us_per_move'], 0)} µs (HEAD "
                    f"{fmt(c['node0_us_per_move'], 0)}, single {fmt(s['node0_us_per_move'], 0)})",
                    "",
                )
            )
    return rows


def events_rows(lat: dict[str, Any]) -> list[Row]:
    o, s = lat["other"], lat["same"]
    return [
        (
            f"a whole lobby action: event `ts` (ms, stamped before it is stored) -> receipt by a "
            f"spectator on another node, in worker processes ({lat['events']} events)",
            "(not the target's measure: see the publication row)",
            f"p50 {o['p50_ms']:.1f}, p99 {o['p99_ms']:.1f} ms (on the node that made it: "
            f"{s['p50_ms']:.1f}, {s['p99_ms']:.1f})",
            "",
        )
    ]


def ms(r: dict[str, Any]) -> str:
    return f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f}"


def latency_rows(lat: dict[str, Any]) -> list[Row]:
    c, s = lat["cluster"], lat["single"]
    pub, move = c["publication_to_arrival"], c["move_to_round"]
    lo, go = pub["lobby_other"], pub["game_other"]
    return [
        (
            f"an event's publication in Redis -> its arrival at spectators on the 2 other nodes "
            f"(p50 / p99; {c['events']['lobby']} lobby events, {c['events']['game']} game events, "
            f"{lat['watchers']} spectators of each per node, {lat['rate']:g} moves/s)",
            "p50 ≤ 2 ms, p99 ≤ 15 ms",
            f"lobby **{ms(lo)}** ms, game **{ms(go)}** ms (on the node that made them: lobby "
            f"{ms(pub['lobby_same'])}, game {ms(pub['game_same'])}: its own subscribers get a "
            f"game event before it publishes it)",
            verdict(all(r["p50_ms"] <= 2 and r["p99_ms"] <= 15 for r in (lo, go))),
        ),
        (
            "a move sent -> its `round` event at spectators of the game (p50 / p99), beside a "
            "single node",
            "(reference)",
            f"other nodes {ms(move['other'])} ms, the making node {ms(move['same'])}, the "
            f"player {ms(move['player'])}; single node: spectators "
            f"{ms(s['move_to_round']['same'])}, the player {ms(s['move_to_round']['player'])}",
            "",
        ),
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
    if "latency" in out:
        rows += latency_rows(out["latency"])
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
            for name in ("cluster", "single", "against"):
                if name not in m:
                    continue
                r = m[name]
                lines.append(
                    f"- moves, {m['players']} player(s), {name}: p50 {r['p50_ms']:.2f} ms, per "
                    f"window {r['window_p50s']} ms; CPU per move: node 0 "
                    f"{fmt(r['node0_us_per_move'], 0)} µs, the other nodes "
                    f"{fmt(r['others_us_per_move'], 0)} µs, Redis "
                    f"{fmt(r['redis_us_per_move'], 0)} µs; node 0's Redis commands per move "
                    f"{r.get('node0_redis_commands_per_move', 0):.2f} (medians of the windows); "
                    f"games refused, the lobby busy (tried again): {r.get('unavailable', 0)}; "
                    f"errors: {r['errors'] or 'none'}"
                )
            lines.append(
                f"- moves, {m['players']} player(s), p50 cluster - single, window by window: "
                f"{m['window_deltas_ms']} ms"
            )
    if "latency" in out:
        for name in ("cluster", "single"):
            r = out["latency"][name]
            parts = [
                f"{what} {key}: {ms(v)}"
                for what in ("publication_to_arrival", "other_minus_same", "move_to_round")
                for key, v in r[what].items()
            ]
            lines.append(f"- latency, {name} (p50 / p99 ms): " + "; ".join(parts))
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
