"""The recovery attack's follower: one watcher across all its connections, recovering every topic
with ``since``/``epoch`` after each reconnect and counting every (topic, epoch, seq) it receives."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect

from tests.reliability.crash import Lost, Restartable
from tests.reliability.harness import call

TIMEOUT = 20.0


class Follower:
    """One watcher, across all its connections: what it received, per topic and seq."""

    def __init__(self, name: str, target: Restartable, token: str | None = None) -> None:
        self.name = name
        self.target = target
        self.token = token
        self.ws: ClientConnection | None = None
        self.ids = itertools.count(1)
        self.pending: dict[int, tuple[str, dict[str, Any], Any, asyncio.Future[Any]]] = {}
        self.last: dict[str, int] = {}  # topic -> highest seq received
        self.epochs: dict[str, str] = {}
        self.receipts: collections.Counter[tuple[str, str, int]] = collections.Counter()
        self.base: dict[str, int] = {}  # game topic -> seq after which it was followed
        self.recovered = 0
        self.not_recovered: list[str] = []  # game topics answered with a snapshot
        self.lobby_snapshots = 0
        self.reconnects = 0
        self.connected = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None
        self.lobby_games: asyncio.Queue[str] = asyncio.Queue()
        self.trace: list[tuple[Any, ...]] = []  # what was asked and answered, for a failure
        self.failure: Exception | None = None  # what broke this follower's reader
        self.over: set[str] = set()  # game topics read up to their game_over: nothing to recover
        self.gaps: set[str] = set()  # topics where an event came after a missing one
        self.covered: dict[str, set[int]] = {}  # game topic -> seqs a snapshot stood in for

    # -- the connection -------------------------------------------------------------------------

    async def connect(self) -> None:
        """(Re)connect, authenticate if a seat, and recover every topic known."""
        self.connected.clear()
        hub = await self.target.available()
        ws = await connect(hub.ws_url, max_queue=None, open_timeout=TIMEOUT)
        json.loads(await ws.recv())  # welcome
        self.ws = ws
        self.trace.append((self.reconnects, "conn", hub.port))
        self.reader = asyncio.create_task(self._read(ws))
        # Seats take turns: auth first (the hub subscribes the live game, then we recover), or
        # recover first (auth then finds the game subscribed already).
        auth_first = self.reconnects % 2 == 0
        if self.token is not None and auth_first:
            await self.auth()
        for topic in [t for t in self.last if not t.startswith("player:") and t not in self.over]:
            await self.recover(topic)
        if self.token is not None and not auth_first:
            await self.auth()
        for topic in [t for t in self.last if t.startswith("player:")]:
            await self.recover(topic)
        if self.token is None and "lobby" not in self.last:
            await self.subscribe_lobby(None)
        self.connected.set()

    # Replies are applied by the reader itself, before it reads the next frame: the events that
    # follow a reply (a replay, live ones) must be read against what the reply announced.

    async def auth(self) -> None:
        """Authenticate; a topic the hub subscribes that we did not know is followed from now."""
        assert self.token is not None

        def apply(data: dict[str, Any]) -> None:
            for sub in data["subscribed"]:
                topic = sub["topic"]
                if topic not in self.last or self.epochs.get(topic) != sub["epoch"]:
                    # New to us, or its history was lost (a player's topic after they left):
                    # followed from now, in its epoch.
                    self.last[topic] = sub["seq"]
                    self.epochs[topic] = sub["epoch"]
                    if topic.startswith("game:"):
                        self.base.setdefault(topic, sub["seq"])

        await self.request("auth", apply, token=self.token)

    async def recover(self, topic: str) -> None:
        """Subscribe with ``since`` = the last seq received and its epoch."""
        if topic == "lobby":
            await self.subscribe_lobby(self.last["lobby"])
            return

        def apply(data: dict[str, Any]) -> None:
            self.gaps.discard(topic)
            if data["recovered"]:
                self.recovered += 1
                return
            # A snapshot: the client is told and holds the state; it stands in for the events.
            if topic.startswith("game:"):
                self.not_recovered.append(topic)
                covered = range(self.last[topic] + 1, data["seq"] + 1)
                self.covered.setdefault(topic, set()).update(covered)
            self.last[topic], self.epochs[topic] = data["seq"], data["epoch"]

        since, epoch = self.last[topic], self.epochs[topic]
        await self.request("subscribe", apply, topic=topic, since=since, epoch=epoch)

    async def subscribe_lobby(self, since: int | None) -> None:
        """Follow the lobby; from a snapshot, follow the live games it lists."""
        fields: dict[str, Any] = {"topic": "lobby"}
        if since is not None and "lobby" in self.epochs:
            fields.update(since=since, epoch=self.epochs["lobby"])

        def apply(data: dict[str, Any]) -> None:
            self.gaps.discard("lobby")
            if data["recovered"]:
                self.recovered += 1
                return
            self.epochs["lobby"], self.last["lobby"] = data["epoch"], data["seq"]
            self.lobby_snapshots += 1
            for game in data["snapshot"]["games"]:
                self.lobby_games.put_nowait(game["id"])

        await self.request("subscribe", apply, **fields)

    async def follow(self, session: aiohttp.ClientSession, game_id: str) -> None:
        """Follow a game from its first event."""
        topic = f"game:{game_id}"
        if topic in self.base:
            return
        status, game = await call(session, "GET", f"{self.target.hub.url}/api/games/{game_id}")
        assert status == 200, (status, game)
        if topic in self.base:
            return
        self.base[topic] = 0
        self.last.setdefault(topic, 0)
        self.epochs[topic] = game["epoch"]
        data = await self.request("subscribe", None, topic=topic, since=0, epoch=game["epoch"])
        assert data["recovered"], data

    async def request(
        self, op: str, apply: Callable[[dict[str, Any]], None] | None, **fields: Any
    ) -> dict[str, Any]:
        """Send a request; its reply's data (an error reply fails the run).

        ``apply`` runs on the reply's data in the reader, before the next frame is read.
        """
        for _ in range(100):
            assert self.ws is not None
            rid = next(self.ids)
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self.pending[rid] = (op, fields, apply, future)
            await self.ws.send(json.dumps({"type": op, "id": rid, **fields}))
            async with asyncio.timeout(TIMEOUT):
                reply = await future
            if reply["ok"] or reply["error"]["code"] != "rate_limited":
                break
            await asyncio.sleep(0.1)  # 20 requests/s per connection: a client waits its turn
        assert reply["ok"], (op, fields, reply)
        return dict(reply["data"])

    def _reply(self, frame: dict[str, Any]) -> None:
        entry = self.pending.pop(frame["id"], None)
        if entry is None:
            return
        op, fields, apply, future = entry
        if frame["ok"]:
            data = frame["data"]
            if op == "subscribe":
                self.trace.append((self.reconnects, fields.get("topic"), fields.get("since"),
                                   data["seq"], data["recovered"]))  # fmt: skip
            if apply is not None:
                apply(data)
        if not future.done():
            future.set_result(frame)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "reply":
                    self._reply(frame)
                elif frame["type"] == "event":
                    self._event(frame)
        except Lost:
            pass
        except Exception as exc:  # a bug here would pass for a lost event: it fails the run
            self.failure = exc
            raise
        finally:
            for *_, future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection lost"))
                    future.exception()  # retrieved: its requester may be gone already
            self.pending.clear()

    def _event(self, frame: dict[str, Any]) -> None:
        topic, seq = frame["topic"], frame["seq"]
        self.trace.append((self.reconnects, topic, seq))
        epoch = self.epochs.get(topic, "")
        self.receipts[(topic, epoch, seq)] += 1
        last = self.last.get(topic, 0)
        if seq == last + 1:
            self.last[topic] = seq
            if frame["event"] == "game_over":
                self.over.add(topic)
        elif seq > last + 1:
            self.gaps.add(topic)  # recovered at once by the run loop
        if topic == "lobby" and frame["event"] == "game_started":
            self.lobby_games.put_nowait(frame["data"]["id"])
        elif topic.startswith("player:") and frame["event"] == "game_started":
            game = frame["data"]
            game_topic = f"game:{game['id']}"
            if game_topic not in self.base:
                self.base[game_topic] = 0  # subscribed before the game's first event
                self.last.setdefault(game_topic, 0)
                self.epochs[game_topic] = game["epoch"]

    def cut(self) -> bool:
        """Abort the TCP connection, as a network failure would."""
        if self.ws is None or not self.connected.is_set():
            return False
        self.connected.clear()
        self.ws.transport.abort()
        return True

    async def run(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Stay connected (reconnecting after every cut or restart) and follow games until stop."""
        while not stop.is_set():
            try:
                if self.failure is not None:
                    raise self.failure
                if self.ws is None or self.reader is None or self.reader.done():
                    if self.ws is not None:
                        self.reconnects += 1
                        self.ws.transport.abort()
                        await self.ws.wait_closed()
                    await self.connect()
                for topic in list(self.gaps):
                    await self.recover(topic)
                if self.token is None:
                    try:
                        async with asyncio.timeout(0.1):
                            game_id = await self.lobby_games.get()
                    except TimeoutError:
                        continue
                    await self.follow(session, game_id)
                elif self.reader is not None:
                    await asyncio.wait([self.reader], timeout=0.1)
            except Lost:
                self.connected.clear()
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        """Close the last connection."""
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader

    def tally(self, finals: dict[str, int]) -> tuple[int, int, int, list[Any]]:
        """Game topics followed, events lost, events received twice (or more), and the traces."""
        lost = dup = 0
        traces: list[Any] = []
        for topic, base in self.base.items():
            seen = {seq for (t, _, seq) in self.receipts if t == topic}
            missing = (
                set(range(base + 1, finals[topic] + 1)) - seen - self.covered.get(topic, set())
            )
            lost += len(missing)
            if missing:
                trace = [t for t in self.trace if t[1] == topic]
                traces.append((self.name, topic, base, sorted(missing), trace))
        twice: dict[str, list[int]] = collections.defaultdict(list)
        for (topic, _, seq), count in self.receipts.items():
            dup += count - 1
            if count > 1:
                twice[topic].append(seq)
        for topic, seqs in twice.items():
            trace = [t for t in self.trace if t[1] == topic]
            traces.append((self.name, topic, "twice", sorted(seqs)[:20], trace[-60:]))
        return len(self.base), lost, dup, traces
