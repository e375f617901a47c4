"""The sections of ``docs/reliability.md``, one per attack: what it does, then its figures."""

from __future__ import annotations

from typing import Any


def figures_of(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    figures = results.get(name)
    return figures if isinstance(figures, dict) else None


def num(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        return "—" if value != value else f"{value:,.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "—" if value is None else str(value)


def missing(results: dict[str, Any], name: str) -> str | None:
    figures = results.get(name)
    if figures is None:
        return "Not measured in this run."
    if "error" in figures:
        return f"The attack failed: `{figures['error'][:400]}`"
    return None


def crash_section(results: dict[str, Any]) -> list[str]:
    out = [
        "## SIGKILL during play",
        "",
        "Players play the computer over WebSocket and over REST, each move naming its `round`;",
        "after a random 10-60 acknowledged moves the hub gets SIGKILL and is started again on",
        "the same database; a move whose answer died with the process is sent again (same",
        "roll, same round). At the end the hub stops cleanly, starts once more, and every",
        "acknowledged move is looked up in the stored games (`--kills`, `--players`).",
        "",
    ]
    note = missing(results, "crash")
    if note:
        return [*out, note, ""]
    out += [
        "| backend | SIGKILLs | acknowledged WS moves | lost | acknowledged REST moves | lost "
        "| games | requests retried |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results["crash"]["rows"]:
        out.append(f"| {r['backend']} | {r['kills']} | {num(r['acked']['ws'])} | "
                   f"{r['lost']['ws']} | {num(r['acked']['rest'])} | {r['lost']['rest']} | "
                   f"{r['games']} | {r['retried']} |")  # fmt: skip
    if not any(r["backend"] == "postgresql" for r in results["crash"]["rows"]):
        out += ["", "PostgreSQL: not measured in this run (give `--postgres URL`)."]
    return [*out, ""]


def frames_section(results: dict[str, Any]) -> list[str]:
    out = [
        "## Malformed frames",
        "",
        "The fixed cases of `tests/reliability/frames.py` (not JSON, not an object, bad or",
        "missing `id`, unknown op, ill-typed fields, 32,000-deep nesting, exactly 65,536 bytes…)",
        "and random damage to valid requests (cut, spliced, retyped, re-keyed, noise), 30 per",
        "connection (within one burst of the rate limit), then a probe request on the same",
        "connection. As specified: exactly one reply per frame, with the frame's `id` when it is",
        "a JSON object with an integer or string `id`, else `null`; `bad_request` when it is",
        "not such an object or names no known op; the connection still answers. Then binary,",
        "invalid UTF-8, 65,537 bytes and 80,000 bytes in two fragments, each on its own",
        "connection, five times: closes 1003, 1007, 1009, 1009 (`--frames`).",
        "",
    ]
    note = missing(results, "frames")
    if note:
        return [*out, note, ""]
    f = results["frames"]
    out += [
        "| frames sent | answered as the protocol says | connections | still answering after |"
        " closing frames sent | closed with the protocol's code | hub still up |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        f"| {num(f['sent'])} | {num(f['answered'])} | {f['connections']} | "
        f"{f['probes_ok']} | {f['closes_sent']} | {f['closes_right']} | "
        f"{'yes' if f['alive'] else 'no'} |",
    ]
    if f["wrong"]:
        out += ["", "Answered otherwise (first ones):", ""] + [f"- `{w}`" for w in f["wrong"]]
    return [*out, ""]


def nonreader_section(results: dict[str, Any]) -> list[str]:
    out = [
        "## Clients that never read",
        "",
        "A raw socket with a 4 KB receive buffer completes the WebSocket handshake and then only",
        "sends `subscribe lobby` (a burst of 40, then 10/s), each answered with a fresh snapshot",
        'of a lobby of live games, and never reads. Times are from its first frame; "counted" is',
        'when `/metrics` first showed `rps_hub_slow_consumers_closed_total` ≥ 1, "let go" when',
        "the hub process no longer held the socket (read from `/proc/net/tcp` and",
        "`/proc/<pid>/fd`). A bystander asked `/healthz` every 50 ms meanwhile. A second",
        "non-reader stops reading until the hub counts it, then reads: the close code it gets",
        "(`--games`). Counted comes at once (the kernel's queue counts towards the 1 MiB); let",
        "go follows when the close handshake the client never answers times out (10 s).",
        "",
    ]
    note = missing(results, "nonreader")
    if note:
        out += [note, ""]
    else:
        n = results["nonreader"]
        out += [
            "| snapshot bytes | frames sent | counted as slow after s | let go after s |"
            " bystander answered | resumed reader's close code |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {num(n['snapshot_bytes'])} | {n['frames_sent']} | "
            f"{num(n['decided_after'])} | {num(n['released_after'])} | "
            f"{n['served_meanwhile']}/{n['asked_meanwhile']} | "
            f"{n['resumed_reader_close_code']} |",
            "",
        ]
    out += [
        "### SIGTERM with non-readers connected",
        "",
        "`--non-readers` non-readers each send 10, 40 or 300 snapshots (the first 40 at once,",
        "then 10/s; a non-reader the hub lets go stops early); then the hub gets SIGTERM. Held:",
        "non-readers the hub still held at that moment; their kernel send queue is read from",
        "`/proc/net/tcp`; then the exit code and the seconds until the process was gone. Last",
        "row: the same hub with no client at all.",
        "",
    ]
    note = missing(results, "shutdown")
    if note:
        return [*out, note, ""]
    s = results["shutdown"]
    out += [
        "| non-readers | snapshots each | held at SIGTERM | their kernel send queue | exit code |"
        " exit after s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in s["rows"]:
        out.append(
            f"| {r['non_readers']} | {r['frames']} | {r['held']} | {num(r['queued_bytes'])} B | "
            f"{r['code']} | {num(r['seconds'])} |"
        )
    out.append(f"| 0 | — | — | — | {s['quiet_code']} | {num(s['quiet_seconds'])} |")
    return [*out, ""]


def conns_section(results: dict[str, Any]) -> list[str]:
    out = [
        "## Half-open, idle and silent connections",
        "",
        "Each flood is opened in full; then a bystander makes 3 HTTP requests and opens 3",
        "WebSockets (1 for the silent flood); then every flooding socket is read until the hub",
        'closes it; times are from when the flood began to open. "Held meanwhile" counts the',
        "flooding sockets still open when the bystander was done. Half-open: request headers cut",
        "off halfway, default `--header-timeout` (10 s). Idle: one complete request, then nothing,",
        "default `--keepalive-timeout` (75 s). Cap: `--max-connections` half-open connections, so",
        "the bystander is the one too many.",
        "Silent: WebSockets that read but never answer a ping, `--heartbeat` as given.",
        "",
        "| flood | hub options | sockets | held meanwhile | bystander HTTP | bystander WS |"
        " closed by the hub | closed after s (p50 / max) | HTTP after |",
        "| --- | --- | ---: | ---: | --- | --- | ---: | ---: | ---: |",
    ]
    options = {"halfopen": "defaults", "idle": "defaults",
               "cap": f"`--max-connections {results['args'].get('cap')}`",
               "silent": f"`--heartbeat {results['args'].get('heartbeat')}`"}  # fmt: skip
    for name in ("halfopen", "idle", "cap", "silent"):
        note = missing(results, name)
        if note:
            out.append(f"| {name} | {options[name]} | {note} |||||||")
            continue
        r = results[name]
        statuses = ", ".join(str(x) for x in r["bystander_http"])
        ws = f"{sum(r['bystander_ws'])}/{len(r['bystander_ws'])} open" if r["bystander_ws"] else "—"
        out.append(
            f"| {r['kind']} | {options[name]} | {num(r['opened'])} | "
            f"{num(r['held_meanwhile'])} | {statuses} | {ws} | {num(r['closed'])} | "
            f"{num(r['closed_p50'])} / {num(r['closed_max'])} | {r['after_http']} |"
        )
    return [*out, ""]


def floods_section(results: dict[str, Any]) -> list[str]:
    out = [
        "## Floods from one address",
        "",
        "The hub runs with `--trusted-proxy 127.0.0.1`, so each client names its address in",
        "`X-Forwarded-For` and the per-address limits apply on loopback. A bystander at another",
        "address plays the computer (`--moves` moves, 20/s over REST, 10/s over WebSocket): first",
        "alone (quiet), then during the flood (flooded), in the same run; latency is from sending",
        "the move to its answer, in ms. The flood lasts exactly as long as the bystander's",
        "flooded phase (bounded by `--rest-requests` / `--ws-frames`). REST flood: 32 concurrent",
        "`GET /api/leaderboard` loops; the limit lets at most 40 + 20/s of them succeed.",
        "Registrations:",
        "20 in a row from one address. WebSocket flood: 60 sockets at once from one address (50",
        "allowed), each sending requests as fast as it can until the hub closes it, then opened",
        "again; frames a socket sends after its 100th refusal are not answered (it is being",
        "closed). The attacker is a Python process on the same 2 cores as the hub and the",
        "bystander: part of the flooded latency is the machine's, not the hub's.",
        "",
    ]
    note = missing(results, "restflood")
    if note:
        out += [note, ""]
    else:
        r = results["restflood"]
        out += [
            "| REST requests | 200 | 429 `rate_limited` | other | the protocol's most 200s | "
            "registrations | bystander move p50 / p99 quiet | flooded | bystander failures |",
            "| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
            f"| {num(r['sent'])} | {num(r['ok'])} | {num(r['limited'])} | {r['other']} | "
            f"{num(r['ok_bound'], 0)} | "
            + ", ".join(f"{n} x {s}" for s, n in r["registrations"].items())
            + f" (bystander {r['bystander_registration']}) | "
            f"{r['quiet']['p50']} / {r['quiet']['p99']} | "
            f"{r['flooded']['p50']} / {r['flooded']['p99']} | "
            f"{r['quiet']['failures'] + r['flooded']['failures']} |",
            "",
        ]
    note = missing(results, "wsflood")
    if note:
        return [*out, note, ""]
    w = results["wsflood"]
    refused = ", ".join(f"{n} x {s}" for s, n in w["refused"].items()) or "none"
    out += [
        "| sockets at once | opened | refused | reopened | frames sent | answered ok |"
        " `rate_limited` | closed 1008 | other closes | bystander p50 / p99 quiet | flooded |"
        " failures |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
        f"| {w['tried']} | {w['opened']} | {refused} | {num(w['reopened'])} | "
        f"{num(w['frames_sent'])} | {num(w['replies_ok'])} | {num(w['rate_limited'])} | "
        f"{num(w['closed_1008'])} | {w['other_closes'] or 'none'} | "
        f"{w['quiet']['p50']} / {w['quiet']['p99']} | "
        f"{w['flooded']['p50']} / {w['flooded']['p99']} | "
        f"{w['quiet']['failures'] + w['flooded']['failures']} |",
    ]
    return [*out, ""]


def recovery_section(results: dict[str, Any]) -> list[str]:
    out = [
        "## Recovery across connection cuts and restarts",
        "",
        "Four players play the computer over REST (20 moves/s each). Three spectators follow the",
        "lobby and every game from seq 0; four seats (each player's own WebSocket) follow their",
        "games, recovering after each reconnect by `auth` then `subscribe` with `since`, or the",
        "other way round, in turn. Every ~0.3 s a random follower's TCP connection is aborted;",
        "every `--restart-every` cuts the hub is restarted (SIGKILL and SIGTERM in turn). At the",
        "end every follower must hold every seq of every game it followed: lost = seqs never",
        "received and not stood in for by a snapshot the hub announced; twice = receipts of a",
        "(topic, epoch, seq) after the first (`--cuts`).",
        "",
    ]
    note = missing(results, "recovery")
    if note:
        return [*out, note, ""]
    r = results["recovery"]
    out += [
        "| cuts | SIGKILL | SIGTERM | reconnects | game topics followed | events received |"
        " lost | twice | recovered | game topics answered with a snapshot | lobby snapshots |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {r['cuts']} | {r['kills']} | {r['terms']} | {r['reconnects']} | {r['topics']} | "
        f"{num(r['events'])} | {r['lost']} | {r['duplicated']} | {r['recovered']} | "
        f"{r['not_recovered']} | {r['lobby_snapshots']} |",
        "",
        "A game topic answered with a snapshot happens when a seat's `auth` subscribes its live",
        "game and an event follows before the seat's own `subscribe` with `since` arrives: the",
        "hub cannot replay the older events after newer ones without breaking seq order, nor",
        "send the newer ones twice, so it answers `recovered: false` with the game (which holds",
        "every round). The lobby's history dies with the process: after a restart a snapshot is",
        "the answer the protocol gives.",
    ]
    return [*out, ""]
