"""Connections that do not keep up, and how every close and shutdown stays bounded.

Also the WebSocket request metrics, which count these connections' requests by wire op.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from hub import keys
from tests.conftest import HubFactory, eventually
from tests.hub.wsclient import Clients


async def metrics_text(server: Any) -> str:
    """The hub's ``/metrics`` exposition."""
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/metrics")) as resp:
        assert resp.status == 200
        return await resp.text()


async def test_websocket_requests_are_counted_by_their_wire_op(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer"))["game"]
    await ann.ok("move", game=game_id, roll="Rock")
    await ann.ok("subscribe", topic="lobby")
    text = await metrics_text(server)
    for op, count in [("auth", 1), ("play", 1), ("move", 1), ("subscribe", 1)]:
        assert f'rps_hub_requests_total{{op="{op}",transport="ws"}} {count:.1f}' in text, op
    assert "moverequest" not in text


# -- a client that never reads ---------------------------------------------------------------

TCP_CLOSE = 7  # tcpi_state of a socket whose connection was reset
HISTORY = 990  # lobby events a replay of the whole ring sends (~130 bytes each)


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client's (masked) WebSocket frame."""
    n = len(payload)
    head = (
        bytes((0x80 | opcode, 0x80 | n))
        if n < 126
        else struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    )
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def masked(text: str) -> bytes:
    """A client's (masked) WebSocket text frame."""
    return masked_frame(0x1, text.encode())


class Stuck:
    """A raw TCP WebSocket client with a tiny receive buffer that stops reading after the upgrade.

    The hub's frames to it pile up in its kernel (a few KB), then in the hub's kernel, then in
    the hub's transport: nothing the client does lets them drain.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    async def open(cls, server: Any) -> Stuck:
        """Connect, upgrade and read only the response's headers."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, (server.host, server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(
            sock,
            f"GET /ws HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode(),
        )
        head = b""
        async with asyncio.timeout(5):
            while b"\r\n\r\n" not in head:
                head += await loop.sock_recv(sock, 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(sock)

    async def send(self, op: str, **fields: Any) -> None:
        """Send one request (its reply is never read)."""
        frame = masked(json.dumps({"type": op, "id": 1, **fields}))
        await asyncio.get_running_loop().sock_sendall(self.sock, frame)

    @property
    def reset(self) -> bool:
        """True once the hub has aborted the connection (it could never close it cleanly)."""
        info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)
        return info[0] == TCP_CLOSE

    def close(self) -> None:
        """Drop the socket."""
        self.sock.close()


@pytest.fixture
async def stuck() -> AsyncIterator[Callable[[Any], Awaitable[Stuck]]]:
    """Open clients that never read; every one is closed at the end of the test."""
    opened: list[Stuck] = []

    async def open_(server: Any) -> Stuck:
        client = await Stuck.open(server)
        opened.append(client)
        return client

    yield open_
    for client in opened:
        client.close()


def sample(text: str, name: str) -> float | None:
    """The value of one sample line of a metrics exposition, None when absent."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


async def released(server: Any) -> bool:
    """No WebSocket connection is left: none in the app, the gauge at 0."""
    gauge = sample(await metrics_text(server), "rps_hub_websocket_connections")
    return not server.app[keys.PEERS] and gauge == 0


async def slow_closed(server: Any) -> bool:
    """One connection was closed as a slow consumer (counted once its handler ended)."""
    return sample(await metrics_text(server), "rps_hub_slow_consumers_closed_total") == 1


async def churn(player: Any, pairs: int) -> None:
    """``pairs`` x (queue, cancel): two lobby events each."""
    for _ in range(pairs):
        await player.ok("play", opponent="*")
        await player.ok("cancel")


async def lobby_history(server: Any, clients: Clients) -> dict[str, Any]:
    """Fill the lobby's ring (1,000 events); the fields of a subscribe that replays 990 of them."""
    ann = await clients.player(server, "ann")
    watcher = await clients.lobby(server)
    await churn(ann, 500)
    data = await watcher.ok("subscribe", topic="lobby")
    return {"topic": "lobby", "since": data["seq"] - HISTORY, "epoch": data["epoch"]}


async def closed_within(server: Any, player: Any, events: int) -> bool:
    """Publish up to ``events`` lobby events; True once the hub has let go of the non-reader."""
    for _ in range(events // 20):
        await churn(player, 10)
        if not any(p.close_code is None for p in server.app[keys.PEERS] if p.player is None):
            return True
    return False


async def frame_limited_hub(start_hub: HubFactory) -> Any:
    """A hub whose peers may hold 100 frames (bytes unlimited), with no rate limit."""
    return await start_hub(
        outbound_frames=100, outbound_bytes=1 << 30, close_timeout=0.5, heartbeat=0, rate=1e6,
        burst=10**6,
    )  # fmt: skip


async def test_a_client_that_never_reads_is_closed_once_the_kernel_and_hub_hold_its_frame_limit(
    start_hub: HubFactory, clients: Clients, stuck: Any
) -> None:
    server = await frame_limited_hub(start_hub)
    ann = await clients.player(server, "ann")
    client = await stuck(server)
    await client.send("subscribe", topic="lobby")
    # 100 frames, plus what a 4 KB receive buffer took: the hub's kernel used to hide thousands.
    assert await closed_within(server, ann, 600)
    await eventually(lambda: slow_closed(server))


async def test_a_spectator_that_never_reads_is_closed_by_a_games_events(
    start_hub: HubFactory, clients: Clients, stuck: Any
) -> None:
    # A move's events reach each subscriber in one write (Peer.write), each frame counted:
    # a game of 50 drawn rounds is 200 of them, past 100 and a 4 KB receive buffer.
    server = await frame_limited_hub(start_hub)
    ann, bob = await clients.player(server, "ann"), await clients.player(server, "bob")
    challenge = (await ann.ok("play", opponent="bob", best_of=15))["challenge"]
    game_id = (await bob.ok("accept", challenge=challenge))["game"]
    client = await stuck(server)
    await client.send("subscribe", topic=f"game:{game_id}")

    async def subscribed() -> bool:
        return any(f"game:{game_id}" in p.topics for p in server.app[keys.PEERS] if not p.player)

    await eventually(subscribed)
    for _ in range(50):
        await ann.ok("move", game=game_id, roll="rock")
        await bob.ok("move", game=game_id, roll="rock")
    await eventually(lambda: slow_closed(server))


async def test_a_client_that_never_reads_is_closed_once_the_kernel_and_hub_hold_its_byte_limit(
    start_hub: HubFactory, clients: Clients, stuck: Any
) -> None:
    server = await start_hub(
        outbound_frames=10**6, outbound_bytes=16 * 1024, close_timeout=0.5, heartbeat=0,
        rate=1e6, burst=10**6,
    )  # fmt: skip
    ann = await clients.player(server, "ann")
    client = await stuck(server)
    await client.send("subscribe", topic="lobby")
    # Lobby events are ~130 bytes: 16 KB is ~130 of them, the kernel used to hide megabytes.
    assert await closed_within(server, ann, 600)
    await eventually(lambda: slow_closed(server))


async def test_a_slow_consumer_closed_by_fan_out_is_released_with_the_heartbeat_off(
    start_hub: HubFactory, clients: Clients, stuck: Any
) -> None:
    server = await start_hub(
        outbound_frames=100, outbound_bytes=64 * 1024, close_timeout=0.5, heartbeat=0,
        rate=1e6, burst=10**6,
    )  # fmt: skip
    ann = await clients.player(server, "ann")
    client = await stuck(server)
    await client.send("subscribe", topic="lobby")
    # The lobby's events close it while its handler waits for a frame that never comes.
    assert await closed_within(server, ann, 30_000)
    await clients.close()  # only the non-reader is left
    await eventually(lambda: slow_closed(server))
    await eventually(lambda: released(server))


async def test_a_peer_that_does_not_complete_the_close_is_aborted(
    start_hub: HubFactory, clients: Clients, stuck: Any
) -> None:
    server = await start_hub(
        outbound_frames=100, outbound_bytes=64 * 1024, close_timeout=0.5, heartbeat=0,
        rate=1e6, burst=10**6,
    )  # fmt: skip
    replay = await lobby_history(server, clients)
    client = await stuck(server)
    for _ in range(40):
        await client.send("unsubscribe", topic="lobby")  # so that each subscribe replays
        await client.send("subscribe", **replay)
    await eventually(lambda: slow_closed(server))

    async def reset() -> bool:
        return client.reset

    await eventually(reset)


async def test_shutdown_completes_with_a_client_that_never_reads(
    start_hub: HubFactory, clients: Clients, stuck: Any
) -> None:
    # Limits out of reach: the client is never closed as slow, only by the shutdown.
    server = await start_hub(
        outbound_frames=10**9, outbound_bytes=1 << 30, close_timeout=0.5, heartbeat=0,
        rate=1e6, burst=10**6,
    )  # fmt: skip
    replay = await lobby_history(server, clients)
    client = await stuck(server)
    for _ in range(40):  # ~5 MB: past the hub's kernel send buffer (4 MB at most)
        await client.send("unsubscribe", topic="lobby")  # so that each subscribe replays
        await client.send("subscribe", **replay)

    async def handled() -> bool:
        text = await metrics_text(server)
        return sample(text, 'rps_hub_requests_total{op="subscribe",transport="ws"}') == 42

    await eventually(handled)
    await clients.close()
    async with asyncio.timeout(30):
        await server.close()
    assert not server.app[keys.PEERS]


async def test_shutdown_does_not_wait_the_close_timeout_for_a_client_that_answers(
    start_hub: HubFactory, clients: Clients
) -> None:
    # A stopping aiohttp server reads nothing more, so waiting for the client's close frame
    # would always last the whole close timeout: a minute here, when it should be at once.
    server = await start_hub(close_timeout=60)
    ann = await clients.player(server, "ann")
    game_id = (await ann.ok("play", opponent="computer"))["game"]
    await ann.send("move", game=game_id, roll="Rock")  # in flight when the stop begins
    await asyncio.sleep(0)
    async with asyncio.timeout(20):
        await server.close()
    code, _ = await ann.closed()
    assert code == 1001


async def test_a_client_that_floods_pings_and_never_reads_is_closed_and_released(
    start_hub: HubFactory, stuck: Any
) -> None:
    # Every pong is queued like any frame: a client that never reads them is a slow consumer.
    server = await start_hub(
        outbound_frames=100, outbound_bytes=64 * 1024, close_timeout=0.5, heartbeat=0
    )
    client = await stuck(server)
    ping = masked_frame(0x9, b"p" * 125)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(ConnectionError):  # the hub may reset it before the last one
        async with asyncio.timeout(10):
            for _ in range(100):  # 100 x 100 pings: ~1.3 MB of pongs
                await loop.sock_sendall(client.sock, ping * 100)
    await eventually(lambda: slow_closed(server))
    await eventually(lambda: released(server))


async def test_a_ping_is_answered_with_a_pong_carrying_its_payload(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    peer = await clients.spectator(server)
    waiter = await peer.ws.ping(b"are you there")
    async with asyncio.timeout(5):
        await waiter
    assert (await peer.ok("subscribe", topic="lobby"))["topic"] == "lobby"


async def test_a_reply_larger_than_the_byte_limit_is_sent_when_nothing_is_queued(
    start_hub: HubFactory, clients: Clients
) -> None:
    # The limit bounds a backlog: one frame to a peer that keeps up is never one.
    server = await start_hub(outbound_bytes=256)
    for i in range(8):
        await clients.player(server, f"player{i}")
    watcher = await clients.spectator(server)
    reply, _ = await watcher.request("subscribe", topic="lobby")
    assert len(json.dumps(reply)) > 256
    assert [p["name"] for p in reply["data"]["snapshot"]["players"]][:2] == ["player0", "player1"]
    assert (await watcher.ok("subscribe", topic="lobby"))["topic"] == "lobby"


async def test_a_recovery_longer_than_the_frame_limit_reaches_a_reader_whole(
    start_hub: HubFactory, clients: Clients
) -> None:
    # The 990 events are written at once, before the client can have read any of them.
    server = await start_hub(outbound_frames=100, rate=1e6, burst=10**6)
    replay = await lobby_history(server, clients)
    reader = await clients.spectator(server)
    data = await reader.ok("subscribe", **replay)
    assert data["recovered"] is True
    frames = [await reader.recv() for _ in range(HISTORY)]
    assert [f["seq"] for f in frames] == list(range(replay["since"] + 1, data["seq"] + 1))
    await clients.player(server, "bob")
    assert (await reader.event("lobby"))["event"] == "player_joined"
