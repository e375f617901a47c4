"""A tiny test-side WebSocket peer built on the real ``websockets`` client.

Every event a peer reads is checked against the topic's previous ``seq``: it must be exactly one
more (a topic seen for the first time, such as a game the seat was subscribed to at its start,
begins at 1).  ``auth`` and ``subscribe`` replies set the base from what the hub answered.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

TIMEOUT = 5.0

Frame = dict[str, Any]


class Peer:
    """One connection: send requests, read replies and events in order."""

    _ids = itertools.count(1)

    def __init__(self, ws: ClientConnection, welcome: Frame) -> None:
        self.ws = ws
        self.welcome = welcome
        self.seqs: dict[str, int] = {}  # the last seq read per topic
        self.starts: dict[str, int] = {}  # the seq each subscription started after, per topic
        self.name: str | None = None
        self.token: str | None = None

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Peer:
        """Connect and read the welcome frame (``kwargs`` go to ``websockets.connect``).

        Unless told otherwise the client buffers without limit, so closing a peer that left
        events unread does not wait for the close timeout.
        """
        kwargs.setdefault("max_queue", None)
        ws = await asyncio.wait_for(connect(url, **kwargs), TIMEOUT)
        welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert welcome["type"] == "welcome"
        return cls(ws, welcome)

    async def close(self) -> None:
        """Close the connection."""
        await self.ws.close()

    async def recv(self) -> Frame:
        """The next frame; an event's ``seq`` must follow the topic's previous one."""
        frame: Frame = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        if frame["type"] == "event":
            topic = frame["topic"]
            last = self.seqs.get(topic, 0)
            assert frame["seq"] == last + 1, f"{topic}: seq {frame['seq']} after {last}: {frame}"
            self.seqs[topic] = frame["seq"]
        return frame

    async def send(self, op: str, **fields: Any) -> Any:
        """Send a request; returns its id."""
        rid = next(self._ids)
        await self.ws.send(json.dumps({"type": op, "id": rid, **fields}))
        return rid

    async def request(self, op: str, **fields: Any) -> tuple[Frame, list[Frame]]:
        """Send a request; returns its reply and the frames that came before it."""
        rid = await self.send(op, **fields)
        frames = []
        while True:
            frame = await self.recv()
            if frame["type"] == "reply" and frame["id"] == rid:
                self._note(op, fields, frame)
                return frame, frames
            frames.append(frame)

    def _note(self, op: str, fields: dict[str, Any], reply: Frame) -> None:
        """Take the seq bases a reply announces."""
        if not reply["ok"]:
            return
        data = reply["data"]
        if op == "auth":
            for sub in data["subscribed"]:
                self.seqs[sub["topic"]] = self.starts[sub["topic"]] = sub["seq"]
        elif op == "subscribe":
            topic = data["topic"]
            if not data["recovered"]:
                self.seqs[topic] = self.starts[topic] = data["seq"]
            elif topic not in self.seqs or fields["since"] < self.starts[topic]:
                # Replayed from since: a first subscription, or nothing came since the last one.
                self.seqs[topic] = self.starts[topic] = fields["since"]
            # Otherwise every event after since was already sent live: nothing is replayed.
        elif op == "unsubscribe":
            self.seqs.pop(fields["topic"], None)
            self.starts.pop(fields["topic"], None)

    async def ok(self, op: str, **fields: Any) -> Any:
        """Send a request that must succeed; returns its data."""
        reply, _ = await self.request(op, **fields)
        assert reply["ok"], reply
        return reply["data"]

    async def error(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send a request that must fail; returns its ``error`` (``code`` and ``message``)."""
        reply, _ = await self.request(op, **fields)
        assert not reply["ok"], reply
        error: dict[str, Any] = reply["error"]
        return error

    async def event(self, topic: str | None = None, name: str | None = None) -> Frame:
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

    async def events(self, *expected: tuple[str, str]) -> list[Frame]:
        """The next frames, which must be exactly these ``(topic, event)`` events in order."""
        frames = [await self.recv() for _ in expected]
        assert [(f.get("topic"), f.get("event")) for f in frames] == list(expected), frames
        return frames

    async def assert_quiet(self) -> None:
        """Nothing is pending: the reply to a harmless request is the very next frame."""
        _, frames = await self.request("unsubscribe", topic="game:-")
        assert frames == [], frames

    async def closed(self) -> tuple[int | None, list[Frame]]:
        """Read until the hub closes the connection: its close code and the frames before it."""
        frames: list[Frame] = []
        try:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    frames.append(json.loads(await self.ws.recv()))
        except ConnectionClosed as exc:
            return (exc.rcvd.code if exc.rcvd is not None else None), frames


def ws_url(server: Any) -> str:
    """The ``ws://`` URL of a test server's ``/ws``."""
    return str(server.make_url("/ws")).replace("http://", "ws://", 1)


async def register(server: Any, name: str) -> str:
    """Register ``name`` over REST; returns its token."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/api/players"), json={"name": name}) as resp,
    ):
        assert resp.status == 201, await resp.text()
        token: str = (await resp.json())["token"]
        return token


async def player(server: Any, name: str) -> Peer:
    """Register ``name`` and open an authenticated connection."""
    token = await register(server, name)
    peer = await Peer.open(ws_url(server))
    await peer.ok("auth", token=token)
    peer.name, peer.token = name, token
    return peer


class Clients:
    """Opens spectators and players on a hub and remembers them to close them."""

    def __init__(self) -> None:
        self._peers: list[Peer] = []

    async def spectator(self, server: Any, **kwargs: Any) -> Peer:
        """An unauthenticated connection (``kwargs`` go to ``websockets.connect``)."""
        peer = await Peer.open(ws_url(server), **kwargs)
        self._peers.append(peer)
        return peer

    async def lobby(self, server: Any) -> Peer:
        """A spectator subscribed to the lobby (its reply read)."""
        peer = await self.spectator(server)
        await peer.ok("subscribe", topic="lobby")
        return peer

    async def player(self, server: Any, name: str, token: str | None = None) -> Peer:
        """A connection authenticated as ``name`` (registered first unless ``token`` is given)."""
        if token is None:
            token = await register(server, name)
        peer = await self.spectator(server)
        data = await peer.ok("auth", token=token)
        peer.name, peer.token = data["player"], token
        return peer

    async def close(self) -> None:
        """Close every connection opened here."""
        await asyncio.gather(*(p.close() for p in self._peers))


async def start_pvp(a: Peer, b: Peer, **play: Any) -> str:
    """``a`` challenges ``b``, ``b`` accepts; both have read the start.  Returns the game id."""
    challenge = (await a.ok("play", opponent=b.name, **play))["challenge"]
    reply, frames = await b.request("accept", challenge=challenge)
    assert reply["ok"], reply
    game_id: str = reply["data"]["game"]
    assert [(f["topic"], f["event"]) for f in frames] == [
        (f"player:{b.name}", "challenge"),
        (f"player:{b.name}", "game_started"),
        (f"game:{game_id}", "round_open"),
    ]
    await a.events((f"player:{a.name}", "game_started"), (f"game:{game_id}", "round_open"))
    return game_id


def names(frames: list[Frame]) -> list[tuple[str, str]]:
    """``(topic, event)`` of each frame."""
    return [(f["topic"], f["event"]) for f in frames]
