"""Lobby fan-out benchmark: rps-hub beside a bare aiohttp serialize-once server, in one run.

For each server and each N (lobby spectators), the script starts the server as a subprocess on a
free 127.0.0.1 port, opens N WebSocket clients (``websockets``, spread over worker processes)
that subscribe to ``lobby``, and measures

- KB per idle connection: (server VmRSS with the N clients open and subscribed - before) / N;
- a throughput phase: driver connections trigger M events as fast as their replies come back;
  server CPU (utime+stime of the server process from /proc) / lobby events counted at the clients
  gives µs/msg, and delivered messages / (last receipt - start) gives msgs/s;
- a latency phase: events at a fixed rate (default 10/s); latency = client receipt time - the
  event's ``ts`` (unix ms, stamped by the server at publish; ms resolution).

The hub is driven over its wire protocol only: drivers register (POST /api/players),
``auth``, ``play`` against the computer and send ``move``s; every resolved round publishes one lobby
``game_updated`` (game starts and ends add ``game_started``/``game_finished``/``player_status``; all
lobby events are counted).  The baseline (``baseline_server.py``) answers any non-subscribe
request by broadcasting one ~256 B event.

Usage: ``.venv/bin/python benchmarks/fanout.py [--subscribers 100 1000] [--events M] [--rate 10]
[--json out.json]``.  Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ctypes
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
CONNECT_KW: dict[str, Any] = {"ping_interval": None, "open_timeout": 30, "max_size": 1 << 20}


# -- /proc --------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- client worker processes --------------------------------------------------------------------


class StampedConnection(ClientConnection):
    """Stamps each text frame when the event loop parses it off the socket.

    With hundreds of clients in one process, a frame can wait several ms between arriving and
    its reader task running; stamping here keeps that client-side queueing out of the latency.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stamps: collections.deque[float] = collections.deque()

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
            self.stamps.append(time.time())
        super().process_event(event)


class Subscriber:
    __slots__ = ("closed", "count", "done", "last_seq", "last_t", "ws")

    def __init__(self, ws: StampedConnection) -> None:
        self.ws = ws
        self.count = 0
        self.last_seq = 0
        self.last_t = 0.0
        self.done = False
        self.closed: int | None = None


class Worker:
    """Runs in a child process: ``n`` lobby subscribers, commanded over a pipe."""

    def __init__(self, conn: Connection, url: str, n: int, concurrency: int) -> None:
        self.conn, self.url, self.n, self.concurrency = conn, url, n, concurrency
        self.subs: list[Subscriber] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.lo = math.inf  # count events with lo < seq
        self.hi = math.inf  # a subscriber is done once it has seen seq >= hi
        self.record = False
        self.latencies: list[float] = []
        self.done = 0
        self.all_done = asyncio.Event()
        self.deflate = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            cmd, *args = await loop.run_in_executor(None, self.conn.recv)
            if cmd == "connect":
                self.conn.send(await self.connect())
            elif cmd == "window":
                self.window(*args)
                self.conn.send("ok")
            elif cmd == "wait":
                self.conn.send(await self.wait(*args))
            elif cmd == "close":
                await self.close()
                self.conn.send("ok")
                return

    async def connect(self) -> dict[str, Any]:
        sem = asyncio.Semaphore(self.concurrency)
        errors: list[str] = []

        async def one() -> None:
            nonlocal errors
            async with sem:
                try:
                    ws = await connect(self.url, create_connection=StampedConnection, **CONNECT_KW)
                    await ws.send('{"type":"subscribe","id":1,"topic":"lobby"}')
                    while True:  # skip the welcome frame (and any early event)
                        msg = json.loads(await ws.recv())
                        ws.stamps.popleft()
                        if msg.get("type") == "reply":
                            if not msg.get("ok"):
                                raise RuntimeError(f"subscribe refused: {msg}")
                            break
                except Exception as exc:
                    errors.append(repr(exc))
                    return
            if ws.protocol.extensions:
                self.deflate += 1
            sub = Subscriber(ws)
            self.subs.append(sub)
            self.tasks.append(asyncio.create_task(self.reader(sub)))

        await asyncio.gather(*(one() for _ in range(self.n)))
        return {"connected": len(self.subs), "errors": errors[:3], "deflate": self.deflate}

    def window(self, lo: int, record: bool) -> None:
        self.lo, self.hi, self.record = lo, math.inf, record
        self.latencies = []
        self.done = 0
        self.all_done.clear()
        for s in self.subs:
            s.count, s.last_t, s.done = 0, 0.0, False

    async def reader(self, sub: Subscriber) -> None:
        loads, stamp = json.loads, sub.ws.stamps.popleft
        try:
            async for raw in sub.ws:
                t = stamp()
                msg = loads(raw)
                if msg.get("type") != "event" or msg.get("topic") != "lobby":
                    continue
                seq = msg["seq"]
                sub.last_seq = seq
                if seq > self.lo:
                    sub.count += 1
                    sub.last_t = t
                    if self.record:
                        self.latencies.append(t * 1000.0 - msg["ts"])
                if seq >= self.hi and not sub.done:
                    self.mark_done(sub)
        except ConnectionClosed as exc:
            sub.closed = exc.rcvd.code if exc.rcvd else 1006
        if not sub.done:
            sub.closed = sub.closed or 1000
            self.mark_done(sub)

    def mark_done(self, sub: Subscriber) -> None:
        sub.done = True
        self.done += 1
        if self.done >= len(self.subs):
            self.all_done.set()

    async def wait(self, hi: int, patience: float) -> dict[str, Any]:
        self.hi = hi
        for s in self.subs:
            if not s.done and (s.last_seq >= hi or s.closed is not None):
                self.mark_done(s)
        if self.done >= len(self.subs):
            self.all_done.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_done.wait(), patience)
        return {
            "delivered": sum(s.count for s in self.subs),
            "last_t": max((s.last_t for s in self.subs), default=0.0),
            "behind": sum(1 for s in self.subs if s.last_seq < hi),
            "closed": sorted({s.closed for s in self.subs if s.closed is not None}),
            "latencies": self.latencies if self.record else [],
        }

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(
            *(asyncio.wait_for(s.ws.close(), 5) for s in self.subs), return_exceptions=True
        )


def worker_main(conn: Connection, url: str, n: int, concurrency: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent cleans up
    asyncio.run(Worker(conn, url, n, concurrency).run())


class WorkerHandle:
    def __init__(self, ctx: Any, url: str, n: int, concurrency: int) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker_main, args=(child, url, n, concurrency), daemon=True)
        self.proc.start()
        child.close()

    async def call(self, *cmd: object, patience: float = 120) -> Any:
        self.conn.send(cmd)
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(None, self.conn.poll, patience)
        if not ready:
            raise TimeoutError(f"worker did not answer {cmd[0]!r}")
        return self.conn.recv()

    def stop(self) -> None:
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


# -- drivers --------------------------------------------------------------------------------------


class Driver:
    """One driver connection; ``trigger()`` makes the server publish (at least) one lobby event."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.rate_limited = 0

    async def request(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        obj["id"] = self.next_id
        await self.ws.send(json.dumps(obj))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("type") == "reply" and msg.get("id") == self.next_id:
                return msg
            self.seen(msg)

    def seen(self, msg: dict[str, Any]) -> None:
        pass

    async def trigger(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)


class BaselineDriver(Driver):
    async def trigger(self) -> None:
        await self.request({"type": "move"})


class HubDriver(Driver):
    """A registered player playing the computer: each move resolves one round."""

    def __init__(self, ws: ClientConnection) -> None:
        super().__init__(ws)
        self.game: str | None = None

    async def ok(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Send a request, retrying while rate limited; return the reply's data."""
        for _ in range(200):
            reply = await self.request(dict(obj))
            if reply["ok"]:
                data: dict[str, Any] = reply["data"]
                return data
            if reply["error"]["code"] != "rate_limited":
                raise RuntimeError(f"{obj['type']} failed: {reply['error']}")
            self.rate_limited += 1
            await asyncio.sleep(0.1)
        raise RuntimeError("rate limited for 20 s")

    def seen(self, msg: dict[str, Any]) -> None:
        if msg.get("event") == "game_over" and msg.get("topic") == f"game:{self.game}":
            self.game = None

    async def play(self) -> None:
        self.game = (await self.ok({"type": "play", "opponent": "computer", "best_of": 15}))["game"]

    async def trigger(self) -> None:
        if self.game is None:
            await self.play()
        try:
            await self.ok({"type": "move", "game": self.game, "roll": "Rock"})
        except RuntimeError as exc:  # the game ended under us: a fresh one, then the move
            if "conflict" not in str(exc):
                raise
            await self.play()
            await self.ok({"type": "move", "game": self.game, "roll": "Rock"})


async def open_ws(url: str) -> ClientConnection:
    ws = await connect(url, **CONNECT_KW)
    json.loads(await ws.recv())  # welcome
    return ws


async def make_drivers(kind: str, base: str, count: int) -> list[Driver]:
    ws_url = base.replace("http", "ws", 1) + "/ws"
    if kind == "baseline":
        return [BaselineDriver(await open_ws(ws_url)) for _ in range(count)]
    drivers: list[Driver] = []
    async with aiohttp.ClientSession() as http:
        for i in range(count):
            async with http.post(f"{base}/api/players", json={"name": f"benchdrv{i:02d}"}) as r:
                if r.status != 201:
                    raise RuntimeError(f"POST /api/players: {r.status} {await r.text()}")
                token = (await r.json())["token"]
            d = HubDriver(await open_ws(ws_url))
            await d.ok({"type": "auth", "token": token})
            await d.play()
            drivers.append(d)
    return drivers


async def latest_seq(control: Driver) -> int:
    """The lobby's latest seq: subscribe (the reply carries it), then unsubscribe."""
    reply = await control.request({"type": "subscribe", "topic": "lobby"})
    if not reply["ok"]:
        raise RuntimeError(f"subscribe failed: {reply}")
    await control.request({"type": "unsubscribe", "topic": "lobby"})
    seq: int = reply["data"]["seq"]
    return seq


async def drive_burst(drivers: list[Driver], events: int) -> None:
    left = events

    async def run(d: Driver) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await d.trigger()

    await asyncio.gather(*(run(d) for d in drivers))


async def drive_paced(driver: Driver, events: int, rate: float) -> None:
    start = time.monotonic()
    for i in range(events):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await driver.trigger()


# -- one (server, N) ------------------------------------------------------------


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


def die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark dies (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def start_server(kind: str, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    if kind == "hub":
        db = tmp / f"bench-{port}.db"
        cmd = [sys.executable, "-m", "hub", "serve", "--port", str(port), "--db", str(db),
               "--round-deadline", "0", "--grace", "0", "--heartbeat", "0",
               "--log-level", "WARNING"]  # fmt: skip
    else:
        cmd = [sys.executable, str(HERE / "baseline_server.py"), "--port", str(port)]
    log = open(tmp / f"{kind}-{port}.log", "wb")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
    finally:
        log.close()


async def wait_listening(proc: subprocess.Popen[bytes], port: int, patience: float = 20) -> None:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        w.close()
        return
    raise TimeoutError(f"server not listening on {port}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def gather_workers(
    workers: list[WorkerHandle], *cmd: object, patience: float = 120
) -> list[Any]:
    return list(await asyncio.gather(*(w.call(*cmd, patience=patience) for w in workers)))


async def phase(
    workers: list[WorkerHandle],
    control: Driver,
    pid: int,
    record: bool,
    drive: Callable[[], Awaitable[None]],
    patience: float,
) -> dict[str, Any]:
    """Run ``drive`` and wait until every subscriber has every lobby event it caused."""
    lo = await latest_seq(control)
    await gather_workers(workers, "window", lo, record)
    cpu0 = cpu_seconds(pid)
    wcpu0 = sum(cpu_seconds(w.proc.pid) for w in workers)
    t0 = time.time()
    await drive()
    hi = await latest_seq(control)
    reports = await gather_workers(workers, "wait", hi, patience, patience=patience + 30)
    cpu1 = cpu_seconds(pid)
    wcpu1 = sum(cpu_seconds(w.proc.pid) for w in workers)
    return {
        "lobby_events": hi - lo,
        "delivered": sum(r["delivered"] for r in reports),
        "behind": sum(r["behind"] for r in reports),
        "closed": sorted({c for r in reports for c in r["closed"]}),
        "seconds": max(r["last_t"] for r in reports) - t0,
        "cpu_s": cpu1 - cpu0,
        "client_cpu_s": wcpu1 - wcpu0,
        "latencies": [x for r in reports for x in r["latencies"]],
    }


def percentile(sorted_xs: list[float], q: float) -> float:
    if not sorted_xs:
        return math.nan
    return sorted_xs[min(len(sorted_xs) - 1, int(q * len(sorted_xs)))]


async def bench_one(kind: str, n: int, args: argparse.Namespace, tmp: Path) -> Result:
    res = Result(kind, n)
    started = time.monotonic()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(kind, port, tmp)
    workers: list[WorkerHandle] = []
    drivers: list[Driver] = []
    control: Driver | None = None
    try:
        await wait_listening(proc, port)
        pid = proc.pid
        drivers = await make_drivers(kind, base, args.drivers)
        control = BaselineDriver(await open_ws(base.replace("http", "ws", 1) + "/ws"))

        # Warm-up without subscribers: loads lazy code paths; gives the per-event fixed cost.
        cpu0 = cpu_seconds(pid)
        await drive_burst(drivers, args.warmup)
        res.idle_us_per_event = (cpu_seconds(pid) - cpu0) / args.warmup * 1e6
        await asyncio.sleep(0.3)
        res.rss_before_kb = rss_kb(pid)

        ctx = mp.get_context("spawn")
        nw = max(1, min(args.workers, n))
        shares = [n // nw + (i < n % nw) for i in range(nw)]
        workers = [WorkerHandle(ctx, base.replace("http", "ws", 1) + "/ws", k, 50) for k in shares]
        reports = await gather_workers(workers, "connect")
        res.connected = sum(r["connected"] for r in reports)
        if res.connected != n:
            errors = [e for r in reports for e in r["errors"]]
            res.notes.append(f"ONLY {res.connected}/{n} CONNECTED, e.g. {errors[:2]}")
        if any(r["deflate"] for r in reports):
            res.notes.append("permessage-deflate was negotiated")
        await asyncio.sleep(0.5)
        res.rss_after_kb = rss_kb(pid)
        res.kb_per_conn = (res.rss_after_kb - res.rss_before_kb) / max(1, res.connected)

        # Throughput: M events as fast as the drivers' replies come back.
        events = args.events or max(200, min(2000, 200_000 // n))
        res.events = events
        tp = await phase(
            workers, control, pid, False, lambda: drive_burst(drivers, events), args.timeout
        )
        res.lobby_events = tp["lobby_events"]
        res.delivered = tp["delivered"]
        res.expected = tp["lobby_events"] * res.connected
        res.seconds = tp["seconds"]
        res.cpu_s = tp["cpu_s"]
        if res.delivered:
            res.us_per_msg = tp["cpu_s"] / res.delivered * 1e6
            res.client_cpu_us_per_msg = tp["client_cpu_s"] / res.delivered * 1e6
        if res.seconds > 0:
            res.msgs_per_s = res.delivered / res.seconds
        if res.delivered != res.expected or tp["closed"]:
            res.notes.append(
                f"throughput: {res.delivered}/{res.expected} delivered, "
                f"{tp['behind']} behind, close codes {tp['closed']}"
            )

        # Latency at a fixed rate, from one driver.
        res.lat_events = args.latency_events
        lat = await phase(
            workers,
            control,
            pid,
            True,
            lambda: drive_paced(drivers[0], args.latency_events, args.rate),
            args.timeout,
        )
        xs = sorted(lat["latencies"])
        res.lat_delivered, res.lat_expected = lat["delivered"], lat["lobby_events"] * res.connected
        res.p50_ms, res.p99_ms = percentile(xs, 0.50), percentile(xs, 0.99)
        res.max_ms = xs[-1] if xs else math.nan
        if res.lat_delivered != res.lat_expected or lat["closed"]:
            res.notes.append(
                f"latency: {res.lat_delivered}/{res.lat_expected} delivered, "
                f"close codes {lat['closed']}"
            )
        res.rate_limited = sum(d.rate_limited for d in drivers)
    finally:
        for w in workers:
            with contextlib.suppress(Exception):
                await w.call("close", patience=20)
        for w in workers:
            w.stop()
        for d in [*drivers, *([control] if control else [])]:
            await d.close()
        stop_server(proc)
    res.notes.append(f"{time.monotonic() - started:.0f} s")
    return res


# -- report --------------------------------------------------------------------


def fmt(x: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(x) else f"{x:,.{digits}f}"


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
        hub, base = by.get(("hub", n)), by.get(("baseline", n))
        if hub and base and base.us_per_msg > 0:
            lines.append(
                f"\nN={n:,}: hub/baseline µs/msg = {hub.us_per_msg / base.us_per_msg:.2f} "
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


def no_nan(d: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()}


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def amain(args: argparse.Namespace) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory(prefix="rps-fanout-") as tmp:
        for n in args.subscribers:
            for kind in args.servers:
                r = await bench_one(kind, n, args, Path(tmp))
                print(f"  {kind:8} N={n:<5} {fmt(r.us_per_msg, 2)} µs/msg, "
                      f"{fmt(r.msgs_per_s, 0)} msgs/s, p50 {fmt(r.p50_ms)} ms, "
                      f"p99 {fmt(r.p99_ms)} ms, {fmt(r.kb_per_conn)} KB/conn"
                      f"  ({'; '.join(r.notes)})", file=sys.stderr, flush=True)  # fmt: skip
                results.append(r)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--events", type=int, default=0,
        help="throughput-phase triggers (default: 200,000/N, within 200..2,000)",
    )  # fmt: skip
    parser.add_argument("--rate", type=float, default=10.0, help="latency phase events/s")
    parser.add_argument("--latency-events", type=int, default=100)
    parser.add_argument("--drivers", type=int, default=50, help="driver connections")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--warmup", type=int, default=200, help="triggers with 0 subscribers")
    parser.add_argument("--timeout", type=float, default=60.0, help="delivery wait, s")
    parser.add_argument("--servers", nargs="+", default=["hub", "baseline"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    nofile = raise_nofile()
    need = max(args.subscribers) + args.drivers + 64
    if nofile < need:
        print(f"warning: RLIMIT_NOFILE is {nofile}, below {need}", file=sys.stderr)
    print(f"fan-out benchmark, {os.cpu_count()} CPUs, Python {platform.python_version()}",
          file=sys.stderr)  # fmt: skip
    try:
        results = asyncio.run(amain(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(table(results))
    print()
    print(details(results))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "args": {
                        k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                    },
                    "results": [no_nan(asdict(r)) for r in results],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
