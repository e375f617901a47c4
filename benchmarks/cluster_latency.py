"""The cluster benchmark's event latency (part 2): from an event's publication to its arrival at
spectators on other nodes, on one clock, beside the same on a single node.

Every client is in this process, on one monotonic clock (``time.perf_counter``), each frame
stamped when the event loop parses it off its socket (before any reader task runs):

- a player on node 0 plays the computer, one move every ``1/--rate`` s (``--summary-interval 0``:
  each resolved round also publishes one lobby ``game_updated``);
- on every node, ``--lat-watchers`` lobby spectators and as many spectators of the player's game
  (they subscribe to each new game before its first move);
- in the cluster, a subscriber of Redis itself (a raw connection, ``PSUBSCRIBE <prefix>:chan:*``,
  stamped in ``data_received``): its stamp of each topic message is the event's **publication**
  (Redis writes a message to every subscriber of the channel in one pass; this one is a
  plain socket, read before any node could have handled its copy).

Measured per event:

1. **publication -> arrival**, cluster: lobby events (published by the commit script in Redis)
   and game events (published by node 0 after its own subscribers got them), at spectators on
   nodes 1 and 2, and on node 0;
2. **move sent -> its `round` event at a game spectator**: the single node's spectators beside
   the cluster's on node 0 and on the other nodes (one origin, known to the client, for both);
3. **arrival on another node - arrival on the making node** (node 0's spectators, median), the
   same events.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import hiredis
from benchlib import percentile
from fanout_drivers import CONNECT_KW, HubDriver, open_ws
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode

from tests.cluster.harness import Cluster, cluster

NODE_ARGS = (
    *("--round-deadline", "0", "--grace", "0", "--heartbeat", "0", "--ws-rate", "0"),
    *("--summary-interval", "0"),
)
Key = tuple[str, int]  # (topic, seq)


class Stamped(ClientConnection):
    """Stamps each text frame (``perf_counter``) when the event loop parses it off the socket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stamps: collections.deque[float] = collections.deque()

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
            self.stamps.append(time.perf_counter())
        super().process_event(event)


class Spectator:
    """A spectator on one node: every event frame's arrival, by (topic, seq)."""

    def __init__(self, ws: Stamped, node: int, arrivals: dict[Key, list[tuple[int, float]]]):
        self.ws, self.node, self.arrivals = ws, node, arrivals
        self.next_id = 0
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                t = self.ws.stamps.popleft()
                msg = json.loads(raw)
                if msg.get("type") == "event":
                    self.arrivals[(msg["topic"], msg["seq"])].append((self.node, t))
                elif msg.get("type") == "reply" and msg.get("id") in self.replies:
                    self.replies.pop(msg["id"]).set_result(msg)

    async def request(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        done = asyncio.get_running_loop().create_future()
        self.replies[self.next_id] = done
        await self.ws.send(json.dumps({**obj, "id": self.next_id}))
        reply: dict[str, Any] = await asyncio.wait_for(done, 30)
        if not reply["ok"]:
            raise RuntimeError(f"{obj} failed: {reply}")
        return reply

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)


async def spectator(url: str, node: int, arrivals: dict[Key, list[tuple[int, float]]]) -> Spectator:
    ws = await connect(url, create_connection=Stamped, **CONNECT_KW)
    assert isinstance(ws, Stamped)
    json.loads(await ws.recv())  # welcome
    ws.stamps.popleft()
    return Spectator(ws, node, arrivals)


class Spy(asyncio.Protocol):
    """A raw subscriber of every topic channel in Redis: each message's publication stamp."""

    def __init__(self, prefix: str) -> None:
        self.chan = f"{prefix}:chan:".encode()
        self.reader = hiredis.Reader()
        self.published: dict[Key, float] = {}
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        t = time.perf_counter()
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if isinstance(reply, list) and reply[0] == b"pmessage":
                topic = reply[2][len(self.chan) :].decode()
                for frame in reply[3].partition(b" ")[2].split(b"\n"):  # one frame or several
                    if frame:
                        self.published.setdefault((topic, json.loads(frame)["seq"]), t)


async def open_spy(url: str, prefix: str) -> Spy:
    host, _, port = url.removeprefix("redis://").partition("/")[0].partition(":")
    loop = asyncio.get_running_loop()
    _, spy = await loop.create_connection(lambda: Spy(prefix), host, int(port or 6379))
    assert spy.transport is not None
    pattern = spy.chan + b"*"
    spy.transport.write(b"*2\r\n$10\r\nPSUBSCRIBE\r\n$%d\r\n%b\r\n" % (len(pattern), pattern))
    await asyncio.sleep(0.2)
    return spy


class Mover(HubDriver):
    """The player: the time each of its moves was sent, by the game events it made."""

    def __init__(self, ws: Any) -> None:
        super().__init__(ws)
        self.sent_at = 0.0
        self.origin: dict[Key, float] = {}
        self.own: list[float] = []  # move sent -> its round event here, ms

    def seen(self, msg: dict[str, Any]) -> None:
        super().seen(msg)
        if msg.get("type") == "event" and msg.get("event") == "round":
            self.origin[(msg["topic"], msg["seq"])] = self.sent_at
            self.own.append((time.perf_counter() - self.sent_at) * 1000)


async def run_one(
    c: Cluster, nodes: int, args: argparse.Namespace, spy: Spy | None, name: str, events: int
) -> dict[str, Any]:
    """One player's paced moves on node 0 of ``c``, seen by spectators on each of its nodes."""
    arrivals: dict[Key, list[tuple[int, float]]] = collections.defaultdict(list)
    mover = Mover(await open_ws(c.ws_url(0)))
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{c.url(0)}/api/players", json={"name": name}) as r,
    ):
        token = (await r.json())["token"]
    await mover.ok({"type": "auth", "token": token})
    lobby = [await spectator(c.ws_url(i), i, arrivals) for i in range(nodes)
             for _ in range(args.lat_watchers)]  # fmt: skip
    games = [await spectator(c.ws_url(i), i, arrivals) for i in range(nodes)
             for _ in range(args.lat_watchers)]  # fmt: skip
    try:
        await asyncio.gather(*(s.request({"type": "subscribe", "topic": "lobby"}) for s in lobby))
        await asyncio.sleep(0.5)
        arrivals.clear()
        start = time.monotonic()
        for i in range(events):
            delay = start + i / args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if mover.game is None:
                await mover.play()
                topic = f"game:{mover.game}"
                await asyncio.gather(
                    *(s.request({"type": "subscribe", "topic": topic}) for s in games)
                )
            mover.sent_at = time.perf_counter()
            await mover.ok({"type": "move", "game": mover.game, "roll": "Rock"})
        await asyncio.sleep(1.0)  # the last events reach everyone
    finally:
        for s in lobby + games:
            await s.close()
        await mover.close()
    return {"arrivals": dict(arrivals), "origin": mover.origin, "own": mover.own,
            "published": dict(spy.published) if spy else {}}  # fmt: skip


def stats(xs: list[float]) -> dict[str, Any]:
    xs = sorted(xs)
    return {"n": len(xs), "p50_ms": percentile(xs, 0.5), "p99_ms": percentile(xs, 0.99)}


def analyse(runs: list[dict[str, Any]]) -> dict[str, Any]:
    arrivals = {k: v for r in runs for k, v in r["arrivals"].items()}
    origin = {k: v for r in runs for k, v in r["origin"].items()}
    published = {k: v for r in runs for k, v in r["published"].items()}
    out: dict[str, Any] = {}
    pub: dict[str, list[float]] = collections.defaultdict(list)
    rel: dict[str, list[float]] = collections.defaultdict(list)
    move: dict[str, list[float]] = collections.defaultdict(list)
    for key, seen in arrivals.items():
        kind = "lobby" if key[0] == "lobby" else "game"
        t0 = published.get(key)
        here = [t for node, t in seen if node == 0]
        for node, t in seen:
            where = "other" if node else "same"
            if t0 is not None:
                pub[f"{kind}_{where}"].append((t - t0) * 1000)
            if node and here:
                rel[kind].append((t - statistics.median(here)) * 1000)
            if key in origin:
                move[where].append((t - origin[key]) * 1000)
    out["publication_to_arrival"] = {k: stats(v) for k, v in sorted(pub.items())}
    out["other_minus_same"] = {k: stats(v) for k, v in sorted(rel.items())}
    move["player"] = [x for r in runs for x in r["own"]]
    out["move_to_round"] = {k: stats(v) for k, v in sorted(move.items())}
    out["events"] = {
        "lobby": sum(1 for k in arrivals if k[0] == "lobby"),
        "game": sum(1 for k in arrivals if k[0] != "lobby"),
        "published_seen": len(published),
    }
    return out


async def latency(src: Path, work: Path, args: argparse.Namespace, say: Any) -> dict[str, Any]:
    """Part 2: a cluster of three and a single node side by side, measured in turns (cluster,
    single, single, cluster), half of ``--lat-moves`` per turn, the turns pooled."""
    out: dict[str, Any] = {"watchers": args.lat_watchers, "rate": args.rate}
    runs: dict[str, list[dict[str, Any]]] = {"cluster": [], "single": []}
    async with (
        cluster(src, nodes=3, broker=True, args=NODE_ARGS) as three,
        cluster(src, nodes=1, broker=False, args=NODE_ARGS) as one,
    ):
        assert three.redis is not None
        spy = await open_spy(three.redis.url, three.prefix)
        try:
            turns = [("cluster", three, 3, spy), ("single", one, 1, None)]
            for rep in range(2):
                for name, c, nodes, seen in turns if rep == 0 else reversed(turns):
                    raw = await run_one(c, nodes, args, seen, f"latency{rep}", args.lat_moves // 2)
                    runs[name].append(raw)
        finally:
            if spy.transport is not None:
                spy.transport.close()
    for name, raws in runs.items():
        out[name] = analyse(raws)
        r = out[name]
        say(f"  latency {name}: {json.dumps({k: v for k, v in r.items() if k != 'events'})}")
    return out
