"""The cluster benchmark's spectator parts: lobby events to spectators on the node that made them
and on the other nodes (part 2), and what one event costs Redis with few and with many spectators
spread over the nodes (part 6).

One cluster of three (``--summary-interval 0``: each resolved round publishes one lobby
``game_updated``, as in ``fanout.py``).  ``fanout_drivers`` players on node 0 make the events;
``fanout_workers`` subscriber processes, one per node, hold the lobby spectators and stamp each
frame when their event loop parses it.

- Part 2: events paced from one driver; latency = receipt - the frame's ``ts`` (unix ms, stamped
  by the node when it made the event, before storing it; truncated to the ms, so +0-1 ms).
- Part 6: a burst of moves from every driver, with Redis's own counters read before and after
  (``INFO commandstats``: calls per command, PUBLISH inside Lua scripts included; ``INFO stats``
  total_net_output_bytes; ``PUBSUB NUMSUB`` per channel; ``CLIENT LIST TYPE pubsub``).  The
  nodes' background work (beats, reaper, the relay's sweep) is measured over an idle stretch just
  before and subtracted at its rate.  Lobby events published = the lobby's seq delta (each is
  numbered, logged and published in one script); pub/sub messages sent = publishes x subscribers
  of their channel.  Done with ``--watchers`` spectators per node, then again with
  ``--spectators`` in all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

from benchlib import percentile
from fanout_drivers import (
    BaselineDriver,
    Driver,
    drive_burst,
    drive_paced,
    latest_seq,
    make_drivers,
    open_ws,
)
from fanout_workers import WorkerHandle
from redis.asyncio import Redis

from tests.cluster.harness import Cluster, cluster

NODE_ARGS = (
    *("--round-deadline", "0", "--grace", "0", "--heartbeat", "0", "--ws-rate", "0"),
    *("--summary-interval", "0"),
)
# Commands of this script's own Redis client (and of any client's connection handshake).
OWN = ("info", "pubsub|", "client|", "config|", "hello", "ping", "psubscribe")
# Commands a node sends itself (the rest of what Redis counts runs inside the nodes' scripts).
DIRECT = ("evalsha", "script|load", "hmget", "zrangebyscore", "subscribe", "unsubscribe", "time")


# -- Redis's counters --------------------------------------------------------------------------


class Spy:
    """A Redis client of this script's own subscribed to the lobby channel and to every game and
    player channel (by pattern): it counts what each kind of topic publishes, exactly.  It is
    one more subscriber of the lobby channel (left out of the nodes' count) and its bytes are
    left out of Redis's output."""

    def __init__(self, r: Redis, prefix: str) -> None:
        self.pubsub = r.pubsub()
        self.chan = f"{prefix}:chan:"
        self.counts = {"lobby": 0, "game": 0, "player": 0}
        self.bytes = 0
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.pubsub.subscribe(self.chan + "lobby")
        await self.pubsub.psubscribe(self.chan + "game:*", self.chan + "player:*")
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        while True:
            m = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if m is None:
                continue
            kind = m["channel"].decode().removeprefix(self.chan).partition(":")[0]
            self.counts[kind] = self.counts.get(kind, 0) + 1
            parts = [m["type"].encode(), m["channel"], m["data"]]
            if m["type"] == "pmessage":
                parts.insert(1, m["pattern"])
            self.bytes += len(b"*%d\r\n" % len(parts)) + sum(
                len(b"$%d\r\n" % len(x)) + len(x) + 2 for x in parts
            )  # the RESP2 bytes Redis wrote for it

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.pubsub.aclose()


async def snap(r: Redis, spy: Spy) -> dict[str, Any]:
    """Redis's command counts (the nodes' only), output bytes and the spy's counts now."""
    stats = await r.info("commandstats")
    calls = {
        name.removeprefix("cmdstat_"): int(v["calls"])
        for name, v in stats.items()
        if not name.removeprefix("cmdstat_").startswith(OWN)
    }
    out = int((await r.info("stats"))["total_net_output_bytes"]) - spy.bytes
    return {"t": time.monotonic(), "calls": calls, "out": out, "spied": dict(spy.counts)}


def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What happened between two snaps: seconds, calls per command, output bytes, publishes."""
    names = set(a["calls"]) | set(b["calls"])
    calls = {n: b["calls"].get(n, 0) - a["calls"].get(n, 0) for n in names}
    return {
        "s": b["t"] - a["t"],
        "calls": {n: c for n, c in calls.items() if c},
        "out": b["out"] - a["out"],
        "spied": {k: b["spied"][k] - a["spied"].get(k, 0) for k in b["spied"]},
    }


async def subscribers(r: Redis, c: Cluster) -> dict[str, Any]:
    """Who listens on Redis besides the spy: the nodes subscribed to the lobby channel and to
    each game channel, and the pub/sub connections (the spy's left out)."""
    chan = f"{c.prefix}:chan:"
    ((_, lobby),) = await r.pubsub_numsub(chan + "lobby")
    games = await r.pubsub_channels(chan + "game:*")
    counts = [n for _, n in await r.pubsub_numsub(*games)] if games else []
    conns = await r.client_list(_type="pubsub")
    return {
        "lobby": int(lobby) - 1,
        "game_channels": len(games),
        "game_subscribers": sorted(set(counts)),
        "pubsub_connections": len(conns) - 1,
    }


# -- spectators ----------------------------------------------------------------------------------


async def add_spectators(c: Cluster, per_node: list[int]) -> list[WorkerHandle]:
    """One subscriber process per node holding that many lobby spectators, connected."""
    ctx = mp.get_context("spawn")
    workers = [WorkerHandle(ctx, c.ws_url(i), n, 50) for i, n in enumerate(per_node)]
    reports = await asyncio.gather(*(w.call("connect", patience=120) for w in workers))
    for n, report in zip(per_node, reports, strict=True):
        if report["connected"] != n:
            raise RuntimeError(f"only {report['connected']}/{n} spectators: {report['errors']}")
    return workers


async def window(workers: list[WorkerHandle], control: Driver, record: bool) -> int:
    lo = await latest_seq(control)
    await asyncio.gather(*(w.call("window", lo, record) for w in workers))
    return lo


async def settle(
    workers: list[WorkerHandle], control: Driver, patience: float
) -> tuple[int, list[dict[str, Any]]]:
    """Wait until every spectator has every lobby event so far (after half a second for the
    lobby changes the last replies set off); the lobby's seq and the spectators' reports."""
    await asyncio.sleep(0.5)
    hi = await latest_seq(control)
    reports = await asyncio.gather(
        *(w.call("wait", hi, patience, patience=patience + 30) for w in workers)
    )
    return hi, list(reports)


async def latency(
    workers: list[WorkerHandle], control: Driver, driver: Driver, args: argparse.Namespace
) -> dict[str, Any]:
    """Part 2: paced events made on node 0; receipt - ts per node of the spectator."""
    lo = await window(workers, control, True)
    await drive_paced(driver, args.lat_events, args.rate)
    hi, reports = await settle(workers, control, 30)
    by_node = [sorted(r["latencies"]) for r in reports]
    same, other = by_node[0], sorted(x for xs in by_node[1:] for x in xs)
    return {
        "events": hi - lo,
        "same": {"n": len(same), "p50_ms": percentile(same, 0.5), "p99_ms": percentile(same, 0.99)},
        "other": {
            "n": len(other),
            "p50_ms": percentile(other, 0.5),
            "p99_ms": percentile(other, 0.99),
        },
        "per_node_p50_ms": [percentile(xs, 0.5) for xs in by_node],
        "delivered": sum(r["delivered"] for r in reports),
        "expected": (hi - lo) * 3 * args.watchers,
        "closed": sorted({x for r in reports for x in r["closed"]}),
    }


async def counted(
    c: Cluster,
    r: Redis,
    spy: Spy,
    workers: list[WorkerHandle],
    control: Driver,
    drivers: list[Driver],
    spectators: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Part 6 for the spectators there are now: Redis's counts around a burst of events."""
    await asyncio.sleep(0.5)
    s0 = await snap(r, spy)
    await asyncio.sleep(args.idle)
    s1 = await snap(r, spy)
    lo = await window(workers, control, False)
    await drive_burst(drivers, args.burst)
    hi, reports = await settle(workers, control, 60)
    s2 = await snap(r, spy)
    nodes = await subscribers(r, c)
    idle, burst = delta(s0, s1), delta(s1, s2)
    scale = burst["s"] / idle["s"]
    net = {n: k - idle["calls"].get(n, 0) * scale for n, k in burst["calls"].items()}
    events = hi - lo
    spied = burst["spied"]
    game_nodes = max(nodes["game_subscribers"] or [0])
    sent = {n: net.get(n, 0.0) for n in DIRECT}
    sent["publish"] = float(spied["game"])  # the outboxes' (lobby and player ones are in scripts)
    return {
        "spectators": spectators,
        "moves": args.burst,
        "drivers": len(drivers),
        "lobby_events": events,
        "seconds": burst["s"],
        "background_per_s": sum(idle["calls"].values()) / idle["s"],
        "publishes": spied,
        "subscribers": nodes,
        "lobby_publishes_per_event": spied["lobby"] / events,
        "messages_per_lobby_event": spied["lobby"] * nodes["lobby"] / events,
        "messages_per_game_event": game_nodes,
        "evalsha_per_lobby_event": net.get("evalsha", 0.0) / events,
        "sent_per_lobby_event": sum(sent.values()) / events,
        "executed_per_lobby_event": sum(net.values()) / events,
        "executed": {
            n: round(k / events, 2) for n, k in sorted(net.items()) if abs(k) / events >= 0.01
        },
        "out_bytes_per_lobby_event": (burst["out"] - idle["out"] * scale) / events,
        "delivered_frames": sum(x["delivered"] for x in reports),
        "expected_frames": events * spectators,
        "closed": sorted({x for rep in reports for x in rep["closed"]}),
    }


def spread_over(total: int, nodes: int = 3) -> list[int]:
    return [total // nodes + (i < total % nodes) for i in range(nodes)]


def said(r: dict[str, Any]) -> str:
    return (
        f"  redis, {r['spectators']} spectators: {r['messages_per_lobby_event']:.2f} pub/sub "
        f"messages, {r['sent_per_lobby_event']:.2f} commands sent, "
        f"{r['executed_per_lobby_event']:.2f} executed per lobby event"
    )


async def spread(src: Path, work: Path, args: argparse.Namespace, say: Any) -> dict[str, Any]:
    """Parts 2 and 6 on one cluster of three."""
    workers: list[WorkerHandle] = []
    drivers: list[Driver] = []
    control: Driver | None = None
    async with cluster(src, nodes=3, broker=True, args=NODE_ARGS) as c:
        assert c.redis is not None
        r = Redis.from_url(c.redis.url)
        spy = Spy(r, c.prefix)
        try:
            await spy.start()
            drivers = await make_drivers("hub", c.url(0), args.drivers)
            control = BaselineDriver(await open_ws(c.ws_url(0)))
            workers = await add_spectators(c, [args.watchers] * 3)
            lat = await latency(workers, control, drivers[0], args)
            say(
                f"  events: same node p50 {lat['same']['p50_ms']:.1f} ms p99 "
                f"{lat['same']['p99_ms']:.1f} ms; other nodes p50 {lat['other']['p50_ms']:.1f} "
                f"ms p99 {lat['other']['p99_ms']:.1f} ms"
            )
            few = await counted(c, r, spy, workers, control, drivers, 3 * args.watchers, args)
            say(said(few))
            more = max(0, args.spectators - 3 * args.watchers)
            workers += await add_spectators(c, spread_over(more))
            many = await counted(
                c, r, spy, workers, control, drivers, 3 * args.watchers + more, args
            )
            say(said(many))
        finally:
            for w in workers:
                with contextlib.suppress(Exception):
                    await w.call("close", patience=20)
                w.stop()
            for d in [*drivers, *([control] if control else [])]:
                await d.close()
            await spy.close()
            await r.aclose()
    return {"latency": lat, "few": few, "many": many}
