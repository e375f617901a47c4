"""Events across connection cuts and hub restarts: none lost, none twice.

Players play the computer over REST (paced), so every game topic fills with events whatever
happens to the watchers.  Two kinds of follower watch over WebSocket:

- spectators follow the lobby and, from its ``game_started`` events (or a lobby snapshot), every
  game from seq 0 (``since: 0`` with the game's epoch);
- seats: each player's own connection, authenticated, so the hub subscribes it to the player's
  games itself; after every reconnect it sends ``auth`` and then, at once, ``subscribe`` with
  ``since`` for each game it knew (the case that once replayed events twice).

A cutter aborts a random follower's TCP connection every so often, and every few cuts the hub is
restarted (SIGKILL and SIGTERM in turn) on the same database.  A follower reconnects and recovers
every topic with ``since``/``epoch``.  Game topics keep their whole history in storage, so each
must recover (``recovered: true``) and, in the end, each follower must have received every seq of
every game it followed exactly once.  The lobby's history dies with the process: after a restart
a snapshot is the right answer; it must still never repeat an event within an epoch.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import random
from collections.abc import Callable
from typing import Any

import aiohttp
from attrs import define, field
from websockets.asyncio.client import ClientConnection, connect

from tests.reliability.crash import Lost, Player, Restartable, rest_player
from tests.reliability.harness import Hub, Hubs, call, http, poll

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


@define
class RecoveryResult:
    """What a recovery run found."""

    cuts: int = 0
    kills: int = 0
    terms: int = 0
    followers: int = 0
    topics: int = 0  # (follower, game topic) pairs followed
    events: int = 0  # events received in all
    lost: int = 0
    duplicated: int = 0
    recovered: int = 0  # subscribe replies with recovered: true after a reconnect
    not_recovered: list[str] = field(factory=list)  # game topics answered with a snapshot
    lobby_snapshots: int = 0
    reconnects: int = 0
    moves: int = 0
    traces: list[Any] = field(factory=list)  # the follower's story of each topic with a loss


async def final_seq(hub: Hub, session: aiohttp.ClientSession, topic: str) -> int:
    """The latest seq of a topic, as a fresh subscriber is told."""
    ws = await connect(hub.ws_url, max_queue=None, open_timeout=TIMEOUT)
    try:
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "id": 1, "topic": topic}))
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "reply":
                return int(frame["data"]["seq"])
    finally:
        await ws.close()


async def recovery_run(
    hubs: Hubs,
    db: str,
    *,
    players: int,
    spectators: int,
    cuts: int,
    cut_every: float,
    restart_every: int,
    seed: int,
    pace: float = 0.05,
) -> RecoveryResult:
    """Cut ``cuts`` connections, one every ``cut_every`` s, restarting every ``restart_every``."""
    rng = random.Random(seed)
    args = ("--round-deadline", "0", "--grace", "0.5")
    target = Restartable(hubs, db, args, await hubs.start(db, *args))
    target.up.set()
    result = RecoveryResult()
    async with http() as session:
        movers = []
        for i in range(players):
            name = f"r{i}x{rng.randrange(10**6)}"
            status, body = await call(
                session, "POST", target.hub.url + "/api/players", {"name": name}
            )
            assert status == 201, (status, body)
            movers.append(
                Player(name, body["token"], "rest", random.Random(rng.random()), pace=pace)
            )
        followers = [Follower(f"spectator{i}", target) for i in range(spectators)]
        followers += [Follower(f"seat:{p.name}", target, p.token) for p in movers]
        stop, stop_following = asyncio.Event(), asyncio.Event()
        watching = [asyncio.create_task(f.run(session, stop_following)) for f in followers]
        for f in followers:
            async with asyncio.timeout(TIMEOUT):
                await f.connected.wait()
        playing = [asyncio.create_task(rest_player(p, target, session, stop)) for p in movers]
        try:
            for n in range(1, cuts + 1):
                done, _ = await asyncio.wait(
                    [*watching, *playing], timeout=cut_every * rng.uniform(0.5, 1.5),
                    return_when=asyncio.FIRST_COMPLETED,
                )  # fmt: skip
                for task in done:
                    task.result()  # a follower or player that failed fails the run
                result.cuts += rng.choice(followers).cut()
                if restart_every and n % restart_every == 0:
                    graceful = (n // restart_every) % 2 == 0
                    await target.kill_and_restart(graceful=graceful)
                    result.terms += graceful
            stop.set()
            await asyncio.gather(*playing)
            # No more cuts: every follower reconnects if it must, recovers, and catches up.
            hub = target.hub
            finals: dict[str, int] = {}

            async def caught_up() -> bool:
                for f in followers:
                    if f.failure is not None:
                        raise f.failure
                for topic in {t for f in followers for t in f.base} - finals.keys():
                    finals[topic] = await final_seq(hub, session, topic)
                return all(
                    f.connected.is_set()
                    and f.reader is not None
                    and not f.reader.done()
                    and f.lobby_games.empty()
                    for f in followers
                ) and all(f.last.get(t, 0) >= finals[t] for f in followers for t in f.base)

            try:
                await poll(caught_up, TIMEOUT * 3, 0.05)
            except TimeoutError:
                behind = [
                    (f.name, t, f.last.get(t), finals.get(t))
                    for f in followers
                    for t in f.base
                    if f.last.get(t, 0) < finals.get(t, 0)
                ]
                states = [(f.name, f.connected.is_set(), f.reconnects) for f in followers]
                stories = [
                    [x for x in f.trace if x[1] == t or x[1] == "conn"][-30:]
                    for f in followers
                    for name, t, _, _ in behind[:2]
                    if f.name == name
                ]
                raise AssertionError(
                    f"followers did not catch up: {behind} {states} {stories}"
                ) from None
            stop_following.set()
            await asyncio.gather(*watching)
        finally:
            stop.set()
            stop_following.set()
            for task in [*playing, *watching]:
                task.cancel()
            await asyncio.gather(*playing, *watching, return_exceptions=True)
            for f in followers:
                await f.close()
        await target.hub.terminate()
    result.kills = target.kills
    result.followers = len(followers)
    result.moves = sum(len(p.acked) for p in movers)
    for f in followers:
        topics, lost, dup, traces = f.tally(finals)
        result.traces += traces
        result.topics += topics
        result.lost += lost
        result.duplicated += dup
        result.events += sum(f.receipts.values())
        result.recovered += f.recovered
        result.not_recovered += f.not_recovered
        result.lobby_snapshots += f.lobby_snapshots
        result.reconnects += f.reconnects
    return result
