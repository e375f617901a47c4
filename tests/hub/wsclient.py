"""A tiny test-side WebSocket peer built on the real ``websockets`` client."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

TIMEOUT = 5.0


class Peer:
    """One connection: send requests, read replies and events in order."""

    _ids = itertools.count(1)

    def __init__(self, ws: ClientConnection, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Peer:
        """Connect and read the welcome frame."""
        ws = await connect(url, **kwargs)
        welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert welcome["type"] == "welcome"
        return cls(ws, welcome)

    async def close(self) -> None:
        """Close the connection."""
        await self.ws.close()

    async def recv(self) -> dict[str, Any]:
        """The next frame."""
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        return frame

    async def send(self, op: str, **fields: Any) -> Any:
        """Send a request; returns its id."""
        rid = next(self._ids)
        await self.ws.send(json.dumps({"type": op, "id": rid, **fields}))
        return rid

    async def request(self, op: str, **fields: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Send a request; returns its reply and the events that came before it."""
        rid = await self.send(op, **fields)
        events = []
        while True:
            frame = await self.recv()
            if frame["type"] == "reply" and frame["id"] == rid:
                return frame, events
            events.append(frame)

    async def ok(self, op: str, **fields: Any) -> Any:
        """Send a request that must succeed; returns its data."""
        reply, _ = await self.request(op, **fields)
        assert reply["ok"], reply
        return reply["data"]

    async def event(self, topic: str | None = None, name: str | None = None) -> dict[str, Any]:
        """The next event (skipping other frames) matching ``topic`` and ``name``."""
        while True:
            frame = await self.recv()
            if frame["type"] != "event":
                continue
            if topic is not None and frame["topic"] != topic:
                continue
            if name is not None and frame["event"] != name:
                continue
            return frame


def ws_url(server: Any) -> str:
    """The ``ws://`` URL of a test server's ``/ws``."""
    return str(server.make_url("/ws")).replace("http://", "ws://", 1)


async def register(server: Any, name: str) -> str:
    """Register ``name`` over REST; returns its token."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/api/players"), json={"name": name}) as resp:
            assert resp.status == 201, await resp.text()
            token: str = (await resp.json())["token"]
            return token


async def player(server: Any, name: str) -> Peer:
    """Register ``name`` and open an authenticated connection."""
    token = await register(server, name)
    peer = await Peer.open(ws_url(server))
    await peer.ok("auth", token=token)
    return peer
