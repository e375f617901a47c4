"""Clients that never read: the hub must let go of them, and must still stop when told.

The non-reader is a raw socket with a small receive buffer: it completes the WebSocket handshake
and then only sends ``subscribe lobby``, each answered with a fresh snapshot of a lobby holding
many live games (tens of KB), so the hub's outbound data for it piles up in the hub's process and
in the kernel's send queue.  Past 1,000 frames or 1 MiB, counting the kernel's queue, the
hub closes it with 1013, and a peer that does not complete the close within 10 s is aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time

import aiohttp
from attrs import define

from tests.reliability.harness import (
    TEXT,
    Hub,
    RawSocket,
    call,
    http,
    poll,
    server_holds,
    ws_frame,
)

SUBSCRIBE = b'{"type":"subscribe","id":1,"topic":"lobby"}'
RCVBUF = 4096
BURST = 40  # the protocol's per-connection burst: sent at once; then paced under the rate
SLOW_METRIC = "rps_hub_slow_consumers_closed_total"
PACE = 0.1  # seconds between the non-reader's later frames (10/s, under 20/s)


async def live_games(hub: Hub, session: aiohttp.ClientSession, count: int) -> int:
    """Register ``count`` players, each with a live game against the computer; the lobby size.

    Returns the size in bytes of the lobby snapshot they make.
    """
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with gate:
            name = f"live{i}"
            status, body = await call(session, "POST", hub.url + "/api/players", {"name": name})
            assert status == 201, (status, body)
            status, game = await call(
                session, "POST", hub.url + "/api/games",
                {"opponent": "computer", "best_of": 15}, token=body["token"],
            )  # fmt: skip
            assert status == 201, (status, game)

    await asyncio.gather(*(one(i) for i in range(count)))
    status, page = await call(session, "GET", hub.url + "/api/games?status=playing&limit=100")
    assert status == 200, page
    return len(json.dumps(page["games"])) * count // max(1, len(page["games"]))


async def metric(session: aiohttp.ClientSession, hub: Hub, name: str) -> float:
    """One sample of ``/metrics`` (0 when absent)."""
    async with session.get(hub.url + "/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def non_reader(hub: Hub) -> RawSocket:
    """A WebSocket that has read its handshake answer and will read nothing more."""
    sock = await RawSocket.connect(hub.host, hub.port, rcvbuf=RCVBUF)
    await sock.upgrade(f"{hub.host}:{hub.port}")
    return sock


async def flood(sock: RawSocket, frames: int, sent: list[int] | None = None) -> int:
    """Send ``subscribe lobby`` frames (a burst, then paced) until the hub is gone or ``frames``.

    Returns the frames sent; ``sent[0]`` follows the count for a caller that cancels it.
    """
    frame = ws_frame(TEXT, SUBSCRIBE)
    count = sent if sent is not None else [0]
    for _ in range(frames):
        try:
            async with asyncio.timeout(2):
                await sock.send(frame)
        except (OSError, TimeoutError):
            break
        count[0] += 1
        if count[0] > BURST:
            await asyncio.sleep(PACE)
    return count[0]


@define
class NonReaderResult:
    """What one non-reader did to the hub, and when the hub let it go."""

    snapshot_bytes: int
    frames_sent: int
    decided_after: float | None  # s from the first frame until /metrics counted a slow consumer
    released_after: float | None  # s from the first frame until the hub held no socket for it
    served_meanwhile: int  # /healthz answers 200 to a bystander while the non-reader was held
    asked_meanwhile: int


async def non_reader_run(hub: Hub, *, games: int, frames: int, bound: float) -> NonReaderResult:
    """One non-reader against a lobby of ``games`` live games; waits at most ``bound`` s."""
    async with http() as session:
        size = await live_games(hub, session, games)
        sock = await non_reader(hub)
        started = time.monotonic()
        sent = [0]
        sender = asyncio.create_task(flood(sock, frames, sent))
        decided: float | None = None
        released: float | None = None
        asked = served = 0
        try:
            async with asyncio.timeout(bound):
                while server_holds(hub, sock.local_port):
                    if decided is None and await metric(session, hub, SLOW_METRIC):
                        decided = time.monotonic() - started
                    asked += 1
                    async with session.get(hub.url + "/healthz") as response:
                        served += response.status == 200
                    await asyncio.sleep(0.05)
                released = time.monotonic() - started
        except TimeoutError:
            pass  # still held after ``bound``: released stays None
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            sock.close()
        if decided is None and await metric(session, hub, SLOW_METRIC):
            decided = released
    return NonReaderResult(size, sent[0], decided, released,
                           served, asked)  # fmt: skip


async def stops_reading_then_reads(
    hub: Hub, *, games: int, frames: int, bound: float
) -> int | None:
    """A consumer that pauses until the hub gives up on it, then reads: the close code it gets."""
    async with http() as session:
        await live_games(hub, session, games)
        sock = await non_reader(hub)
        sender = asyncio.create_task(flood(sock, frames))
        try:
            await poll(lambda: metric(session, hub, SLOW_METRIC), bound, 0.02)
            sender.cancel()
            async with asyncio.timeout(bound):
                return await sock.close_code()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            sock.close()


@define
class ShutdownResult:
    """SIGTERM with non-readers connected."""

    non_readers: int
    frames: int  # the most each sent before SIGTERM
    held: int  # non-readers the hub still held at SIGTERM
    queued_bytes: int  # the hub's kernel send queue for them at SIGTERM
    code: int
    seconds: float


def send_queue(hub: Hub, client_port: int) -> int:
    """Bytes in the kernel's send queue of the hub's socket for ``client_port``."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            for line in itertools.islice(f, 1, None):
                cols = line.split()
                if (
                    int(cols[1].rsplit(":", 1)[1], 16) == hub.port
                    and int(cols[2].rsplit(":", 1)[1], 16) == client_port
                ):
                    return int(cols[4].split(":")[0], 16)
    return 0


async def shutdown_run(hub: Hub, *, games: int, non_readers: int, frames: int) -> ShutdownResult:
    """SIGTERM once ``non_readers`` non-readers have sent ``frames`` each (or were let go)."""
    async with http() as session:
        if games:
            await live_games(hub, session, games)
    socks = [await non_reader(hub) for _ in range(non_readers)]
    try:
        await asyncio.gather(*(flood(s, frames) for s in socks))
        held = sum(server_holds(hub, s.local_port) for s in socks)
        queued = sum(send_queue(hub, s.local_port) for s in socks)
        code, seconds = await hub.terminate()
    finally:
        for s in socks:
            s.close()
    return ShutdownResult(non_readers, frames, held, queued, code, seconds)
