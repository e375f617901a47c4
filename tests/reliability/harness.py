"""Real hub processes, raw sockets and what the kernel says about them, for the attacks.

A ``Hub`` is ``python -m hub serve --port 0`` in a working directory of its own, its stderr in a
file there.  ``RawSocket`` speaks just enough HTTP and RFC 6455 by hand to behave as no library
would let a client behave: never read, stop halfway through the headers, never answer a ping.
``server_holds`` reads ``/proc/net/tcp`` to tell whether the hub still holds a connection's
socket, without touching that connection from the client side.

The hubs log at WARNING; ``RELIABILITY_HUB_LOG_LEVEL=INFO`` in the environment shows more in
each hub's stderr file when an attack needs explaining.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import signal
import socket
import struct
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from attrs import define, field

SERVING = re.compile(r"serving on http://([^/\s]+)/")
LOG_LEVEL = os.environ.get("RELIABILITY_HUB_LOG_LEVEL", "WARNING")
START_TIMEOUT = 30.0
EXIT_TIMEOUT = 60.0  # a bound on any wait for the hub to exit; the protocol's own bound is 10 s


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any ``RPS_HUB_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPS_HUB_")}
    env.update(extra)
    return env


@define
class Hub:
    """One running ``serve`` process."""

    proc: asyncio.subprocess.Process
    host: str
    port: int
    stderr: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, no trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The ``ws://`` URL of ``/ws``."""
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def running(self) -> bool:
        """True until the process has exited."""
        return self.proc.returncode is None

    async def kill(self) -> None:
        """SIGKILL, and reap the process."""
        if self.running:
            self.proc.kill()
        await self.wait()

    async def terminate(self) -> tuple[int, float]:
        """SIGTERM; the exit code and the seconds until the process was gone."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = await self.wait()
        return code, time.monotonic() - started

    async def wait(self, within: float = EXIT_TIMEOUT) -> int:
        """The exit code (the process must exit within ``within`` seconds)."""
        try:
            async with asyncio.timeout(within):
                await self.proc.communicate()
        except TimeoutError:
            raise AssertionError(
                f"the hub (pid {self.pid}) did not exit within {within:g} s"
            ) from None
        assert self.proc.returncode is not None
        return self.proc.returncode

    def log(self) -> str:
        """What the process wrote on stderr so far."""
        return self.stderr.read_text(errors="replace")


async def start_hub(
    workdir: Path, db: str, *args: str, env: dict[str, str] | None = None, name: str = "hub"
) -> Hub:
    """Start ``python -m hub serve --port 0 --db DB ARGS`` in ``workdir``, once it serves."""
    stderr = workdir / f"{name}-{time.monotonic_ns()}.log"
    with stderr.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", "0",
            "--db", db, "--log-level", LOG_LEVEL, *args,
            cwd=workdir, env=env if env is not None else clean_env(),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=err,
        )  # fmt: skip
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(START_TIMEOUT):
            line = (await proc.stdout.readline()).decode()
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        raise
    found = SERVING.search(line)
    if not found:
        await proc.communicate()
        raise AssertionError(f"hub did not start: {line!r} {stderr.read_text(errors='replace')}")
    host, _, port = found.group(1).rpartition(":")
    return Hub(proc, host, int(port), stderr)


@define
class Hubs:
    """Starts hubs for a test or a benchmark and makes sure none outlives it."""

    workdir: Path
    started: list[Hub] = field(factory=list)

    async def start(self, db: str, *args: str, env: dict[str, str] | None = None) -> Hub:
        """Start one more hub (see ``start_hub``)."""
        hub = await start_hub(self.workdir, db, *args, env=env)
        self.started.append(hub)
        return hub

    async def close(self) -> None:
        """Kill whatever is still running."""
        for hub in self.started:
            await hub.kill()


@contextlib.asynccontextmanager
async def hubs(workdir: Path) -> AsyncIterator[Hubs]:
    """A ``Hubs`` whose processes are all gone on exit."""
    started = Hubs(workdir)
    try:
        yield started
    finally:
        await started.close()


# -- HTTP ------------------------------------------------------------------------------------


def http() -> aiohttp.ClientSession:
    """A client session with a bound on every call and room for many connections."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=30),
        connector=aiohttp.TCPConnector(limit=0, force_close=False),
    )


async def call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One JSON request; its status and decoded body (text when the body is not JSON)."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with session.request(method, url, json=body, headers=sent) as response:
        text = await response.text()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


# -- raw sockets -------------------------------------------------------------------------------


def ws_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A masked client frame (RFC 6455 §5.2)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes(((0x80 if fin else 0) | opcode,))
    if n < 126:
        head += bytes((0x80 | n,))
    elif n < 1 << 16:
        head += struct.pack("!BH", 0x80 | 126, n)
    else:
        head += struct.pack("!BQ", 0x80 | 127, n)
    masked = (
        bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask(payload, mask)
    )
    return head + mask + masked


def _mask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


class RawSocket:
    """A non-blocking TCP connection to the hub, driven byte by byte."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.local_port: int = sock.getsockname()[1]

    @classmethod
    async def connect(cls, host: str, port: int, *, rcvbuf: int | None = None) -> RawSocket:
        """Connect; ``rcvbuf`` shrinks the kernel's receive buffer (set before connecting)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    async def send(self, data: bytes) -> None:
        """Send all of ``data``."""
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def recv_some(self) -> bytes:
        """What the kernel has (waiting for at least one byte); b"" at EOF."""
        try:
            return await asyncio.get_running_loop().sock_recv(self.sock, 1 << 16)
        except ConnectionResetError:
            return b""

    async def until_eof(self) -> int:
        """Read and drop everything until the hub closes; the bytes read."""
        total = len(self.buffer)
        self.buffer = b""
        while chunk := await self.recv_some():
            total += len(chunk)
        return total

    async def _fill(self, n: int) -> None:
        while len(self.buffer) < n:
            chunk = await self.recv_some()
            if not chunk:
                raise ConnectionError("the hub closed the connection")
            self.buffer += chunk

    async def read_head(self) -> tuple[int, dict[str, str]]:
        """An HTTP response's status line and headers."""
        while b"\r\n\r\n" not in self.buffer:
            chunk = await self.recv_some()
            if not chunk:
                raise ConnectionError("the hub closed the connection before answering")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        return int(status_line.split()[1]), headers

    async def upgrade(self, host: str, extra: Sequence[str] = ()) -> None:
        """The WebSocket opening handshake on ``/ws``; the hub must answer 101."""
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            + "".join(f"{h}\r\n" for h in extra)
            + "\r\n"
        )
        await self.send(request.encode())
        status, _ = await self.read_head()
        assert status == 101, status

    async def read_frame(self) -> tuple[int, bytes]:
        """The next server frame (unmasked): its opcode and payload."""
        await self._fill(2)
        b0, b1 = self.buffer[0], self.buffer[1]
        n, at = b1 & 0x7F, 2
        if n == 126:
            await self._fill(4)
            n, at = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif n == 127:
            await self._fill(10)
            n, at = struct.unpack("!Q", self.buffer[2:10])[0], 10
        await self._fill(at + n)
        payload, self.buffer = self.buffer[at : at + n], self.buffer[at + n :]
        return b0 & 0x0F, payload

    async def close_code(self) -> int | None:
        """Read frames until the hub's close frame: its code (None at EOF without one)."""
        try:
            while True:
                opcode, payload = await self.read_frame()
                if opcode == CLOSE:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        except ConnectionError:
            return None

    def close(self) -> None:
        """Drop the socket."""
        self.sock.close()


# -- the kernel's view -------------------------------------------------------------------------


def server_holds(hub: Hub, client_port: int) -> bool:
    """True while the hub process holds the socket of the connection from ``client_port``.

    A socket the hub has closed becomes an orphan (inode 0) while the kernel still sends what it
    held, or disappears; either way the hub no longer holds it.
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                local, remote, inode = cols[1], cols[2], cols[9]
                if (
                    int(local.rsplit(":", 1)[1], 16) == hub.port
                    and (int(remote.rsplit(":", 1)[1], 16) == client_port)
                    and inode != "0"
                ):
                    inodes.add(inode)
    if not inodes:
        return False
    fds = Path(f"/proc/{hub.pid}/fd")
    with contextlib.suppress(FileNotFoundError):
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return True
    return False


def percentile(samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``samples``; NaN when there are none."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def poll(check: Any, within: float, interval: float = 0.02) -> float:
    """Wait until ``check()`` (sync or async) is true, at most ``within`` s; the seconds it took."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return time.monotonic() - started
            await asyncio.sleep(interval)
