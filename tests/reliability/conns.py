"""Connections that hold a slot and do nothing: half-open requests, idle keep-alives, silent peers.

The rules: request headers must arrive within 10 s; idle keep-alive connections close after 75 s;
``--max-connections`` caps the open connections (503 beyond).  A WebSocket peer that has
not answered a ping by the next one is closed.  Each flood is opened in full, a bystander is served
(or, beyond the cap, answered 503) while it stands, and then every flooding socket must see the
hub close it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable

import aiohttp
from attrs import define, field
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.reliability.harness import Hub, RawSocket, http, percentile

OPEN_TIMEOUT = 30.0


async def _open_many(hub: Hub, count: int, first: bytes) -> list[RawSocket]:
    """``count`` connections, each having sent ``first``."""
    gate = asyncio.Semaphore(64)

    async def one() -> RawSocket:
        async with gate:
            sock = await RawSocket.connect(hub.host, hub.port)
            await sock.send(first)
            return sock

    async with asyncio.timeout(OPEN_TIMEOUT):
        return list(await asyncio.gather(*(one() for _ in range(count))))


async def bystander_http(session: aiohttp.ClientSession, hub: Hub) -> int:
    """One ``GET /healthz`` on a new connection; its status."""
    async with session.get(hub.url + "/healthz", headers={"Connection": "close"}) as response:
        await response.read()
        return response.status


async def bystander_ws(hub: Hub) -> bool:
    """A WebSocket opened, welcomed and answered."""
    async with asyncio.timeout(OPEN_TIMEOUT):
        try:
            ws = await connect(hub.ws_url, max_queue=None)
        except InvalidStatus:
            return False
        try:
            welcome = json.loads(await ws.recv())
            await ws.send('{"type":"unsubscribe","id":1,"topic":"lobby"}')
            reply = json.loads(await ws.recv())
            return welcome["type"] == "welcome" and reply["ok"] is True
        finally:
            await ws.close()


@define
class FloodResult:
    """One flood: how many, whether a bystander was served meanwhile, how they ended."""

    kind: str
    opened: int
    bystander_http: list[int] = field(factory=list)  # statuses while the flood stood
    bystander_ws: list[bool] = field(factory=list)
    closed: int = 0  # flooding sockets the hub closed
    closed_after: list[float] = field(factory=list)  # s from opening to the hub's close
    after_http: int | None = None  # a bystander's status once the flood was closed
    held_meanwhile: int = 0  # flooding sockets still open when the bystanders were done

    @property
    def closed_p50(self) -> float:
        """Median seconds until the hub closed a flooding socket."""
        return percentile(self.closed_after, 50)

    @property
    def closed_max(self) -> float:
        """Longest seconds until the hub closed a flooding socket."""
        return max(self.closed_after, default=float("nan"))


async def _flood(
    hub: Hub,
    kind: str,
    count: int,
    first: bytes,
    *,
    bound: float,
    bystanders: int,
    ws: bool,
    prepare: Callable[[RawSocket], Awaitable[None]] | None = None,
) -> FloodResult:
    started = time.monotonic()
    socks = await _open_many(hub, count, first)
    result = FloodResult(kind, len(socks))
    try:
        if prepare is not None:
            await asyncio.gather(*(prepare(s) for s in socks))
        async with http() as session:

            async def closed(sock: RawSocket) -> None:
                await sock.until_eof()
                result.closed += 1
                result.closed_after.append(time.monotonic() - started)

            watchers = [asyncio.create_task(closed(s)) for s in socks]
            try:
                for _ in range(bystanders):
                    result.bystander_http.append(await bystander_http(session, hub))
                    if ws:
                        result.bystander_ws.append(await bystander_ws(hub))
                result.held_meanwhile = result.opened - result.closed
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(bound):
                        await asyncio.gather(*watchers)
            finally:
                for task in watchers:
                    task.cancel()
                await asyncio.gather(*watchers, return_exceptions=True)
            result.after_http = await bystander_http(session, hub)
    finally:
        for sock in socks:
            sock.close()
    return result


async def half_open_run(
    hub: Hub, count: int, *, bound: float, bystanders: int = 3, ws: bool = True
) -> FloodResult:
    """``count`` connections that stop halfway through their request headers."""
    first = f"GET /healthz HTTP/1.1\r\nHost: {hub.host}:{hub.port}\r\nUser-Agent: slow".encode()
    return await _flood(hub, "half-open", count, first, bound=bound, bystanders=bystanders, ws=ws)


async def idle_run(hub: Hub, count: int, *, bound: float, bystanders: int = 3) -> FloodResult:
    """``count`` keep-alive connections that make one request and then idle."""
    first = f"GET /healthz HTTP/1.1\r\nHost: {hub.host}:{hub.port}\r\n\r\n".encode()

    async def answered(sock: RawSocket) -> None:
        status, headers = await sock.read_head()
        assert status == 200, status
        length = int(headers.get("content-length", "0"))
        while len(sock.buffer) < length:
            chunk = await sock.recv_some()
            assert chunk, "closed before the body"
            sock.buffer += chunk
        sock.buffer = sock.buffer[length:]

    return await _flood(hub, "idle keep-alive", count, first, bound=bound,
                        bystanders=bystanders, ws=True, prepare=answered)  # fmt: skip


async def second_request_run(
    hub: Hub, count: int, *, bound: float, bystanders: int = 1
) -> FloodResult:
    """``count`` keep-alive connections: one request answered, the next cut off in its headers."""
    request = f"GET /healthz HTTP/1.1\r\nHost: {hub.host}:{hub.port}\r\n"

    async def half_again(sock: RawSocket) -> None:
        status, headers = await sock.read_head()
        assert status == 200, status
        length = int(headers.get("content-length", "0"))
        while len(sock.buffer) < length:
            chunk = await sock.recv_some()
            assert chunk, "closed before the body"
            sock.buffer += chunk
        sock.buffer = sock.buffer[length:]
        await sock.send(f"{request}User-Agent: slow".encode())

    first = f"{request}\r\n".encode()
    return await _flood(hub, "half-open second request", count, first, bound=bound,
                        bystanders=bystanders, ws=True, prepare=half_again)  # fmt: skip


async def silent_peer_run(hub: Hub, count: int, *, bound: float) -> FloodResult:
    """``count`` WebSockets that read everything and never answer a ping."""

    async def upgraded(sock: RawSocket) -> None:
        status, _ = await sock.read_head()
        assert status == 101, status

    key = "dGhlIHNhbXBsZSBub25jZQ=="
    first = (
        f"GET /ws HTTP/1.1\r\nHost: {hub.host}:{hub.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    result = await _flood(hub, "silent WebSocket", count, first, bound=bound, bystanders=1,
                          ws=True, prepare=upgraded)  # fmt: skip
    return result
