"""The fan-out benchmark's lobby subscribers: worker processes of ``websockets`` clients,
commanded over a pipe, that count and time every lobby event."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import math
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

CONNECT_KW: dict[str, Any] = {"ping_interval": None, "open_timeout": 30, "max_size": 1 << 20}


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
