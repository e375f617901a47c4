"""One real ``websockets`` connection to a node, that remembers everything it was sent.

A ``Conn`` reads its connection in a task of its own and keeps every frame in arrival order with
its raw text, so a test can ask afterwards what came before a reply.  It checks as it reads:

- per topic, each event's ``seq`` is one more than the last one this connection had (the base
  comes from the ``auth`` or ``subscribe`` reply; a game topic the seat was subscribed to at its
  start begins at 1, in the epoch its ``game_started`` named);
- every ``(topic, epoch, seq)`` has the same bytes on every connection of the test (``Ledger``);
- a reply answers a request this connection sent, once.

What goes wrong is collected in ``problems`` (an assertion inside the reader task would be lost);
``Clients.assert_sound()`` fails the test with all of them.  Every wait is bounded and its failure
names the connection, what it waited for, its last frames and the nodes' logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

from attrs import Factory, define, field
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, WebSocketException

TIMEOUT = 10.0
Frame = dict[str, Any]
Failure = (OSError, TimeoutError, WebSocketException)


@define
class Seen:
    """One frame as it arrived: its position on the connection, raw text and decoded form."""

    at: int
    raw: str
    frame: Frame

    @property
    def data(self) -> Any:
        """The frame's ``data``."""
        return self.frame.get("data")


@define
class Sub:
    """What a connection knows of one of its topics: the epoch, the last seq it had, and the seq
    its subscription began after (``start`` in protocol.md's recovery table)."""

    epoch: str | None
    seq: int
    start: int = field(default=Factory(lambda sub: sub.seq, takes_self=True))


@define
class Ledger:
    """The bytes of each ``(topic, epoch, seq)``, from whichever connection saw it first."""

    seen: dict[tuple[str, str | None], dict[int, str]] = field(factory=dict)
    problems: list[str] = field(factory=list)

    def record(self, topic: str, epoch: str | None, seq: int, raw: str, who: str) -> None:
        """Keep ``raw``, or note a problem when another connection saw other bytes."""
        known = self.seen.setdefault((topic, epoch), {})
        first = known.setdefault(seq, raw)
        if first != raw:
            self.problems.append(f"{who}: {topic} epoch {epoch} seq {seq}: {raw} != {first}")

    def events(self, topic: str, epoch: str | None) -> list[str]:
        """The raw events of a topic's epoch in seq order."""
        known = self.seen.get((topic, epoch), {})
        return [known[s] for s in sorted(known)]


class Conn:
    """One WebSocket connection to a node; requests by id, events by topic."""

    _ids = itertools.count(1)

    def __init__(self, ws: ClientConnection, slot: int, ledger: Ledger, label: str) -> None:
        self.ws = ws
        self.slot = slot
        self.label = label
        self.ledger = ledger
        self.player: str | None = None
        self.token: str | None = None
        self.frames: list[Seen] = []
        self.subs: dict[str, Sub] = {}
        self.problems: list[str] = []
        self.context: Callable[[], str] = lambda: ""
        self._sent: dict[Any, tuple[str, dict[str, Any]]] = {}
        self._replies: dict[Any, asyncio.Future[Seen]] = {}
        self._early: list[Seen] = []  # player topic events before auth's reply (``_note``)
        self.news = asyncio.Event()
        self.close_code: int | None = None
        self.ended = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    # -- reading ---------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                assert isinstance(raw, str), raw
                self._take(Seen(len(self.frames), raw, json.loads(raw)))
        except (ConnectionClosed, *Failure):
            pass
        except Exception as exc:  # a frame this reader cannot take: the test must fail
            self.problems.append(f"{self.label}: reading failed: {exc!r}")
            self.ws.transport.abort()
        finally:
            rcvd = self.ws.protocol.close_rcvd
            self.close_code = rcvd.code if rcvd is not None else None
            self.ended.set()
            self.news.set()
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(ConnectionError(f"{self.label}: connection closed"))

    def _take(self, seen: Seen) -> None:
        self.frames.append(seen)
        frame = seen.frame
        if frame["type"] == "reply":
            future = self._replies.get(frame["id"])
            if future is None or future.done():
                self.problems.append(f"{self.label}: a reply nobody waits for: {seen.raw}")
            else:
                self._note(frame)
                future.set_result(seen)
        elif frame["type"] == "event":
            self._event(seen)
        self.news.set()

    def _event(self, seen: Seen) -> None:
        frame = seen.frame
        topic, seq = frame["topic"], frame["seq"]
        sub = self.subs.get(topic)
        if sub is None and topic.startswith("player:") and self._authenticating():
            self._early.append(seen)  # before auth's reply, which counts it (docs/protocol.md)
            return
        if sub is None:  # subscribed by the hub at a game's start: its events begin at 1
            sub = self.subs[topic] = Sub(self._game_epoch(topic), 0)
        if seq != sub.seq + 1:
            self.problems.append(f"{self.label}: {topic} seq {seq} after {sub.seq}: {seen.raw}")
        sub.seq = seq
        self.ledger.record(topic, sub.epoch, seq, seen.raw, self.label)
        if frame["event"] == "game_started" and topic.startswith("player:"):
            game = seen.data
            self.subs.setdefault(f"game:{game['id']}", Sub(game["epoch"], 0))

    def _authenticating(self) -> bool:
        return any(
            self._sent.get(rid, ("?",))[0] == "auth" and not future.done()
            for rid, future in self._replies.items()
        )

    def _game_epoch(self, topic: str) -> str | None:
        if not topic.startswith("game:"):
            self.problems.append(f"{self.label}: an event on {topic}, never subscribed")
        else:
            self.problems.append(f"{self.label}: {topic} had an event before its game_started")
        return None

    def _note(self, reply: Frame) -> None:
        """Take the seq bases an ``auth`` or ``subscribe`` reply announces."""
        op, fields = self._sent.get(reply["id"], ("?", {}))
        if not reply["ok"]:
            return
        data = reply["data"]
        if op == "auth":
            self.player = data["player"]
            for sub in data["subscribed"]:
                known = self.subs.get(sub["topic"])
                if known is None or known.epoch != sub["epoch"]:
                    self.subs[sub["topic"]] = Sub(sub["epoch"], sub["seq"])
            early, self._early = self._early, []
            for seen in early:  # a player topic's events sent just before the reply: counted
                topic, seq = seen.frame["topic"], seen.frame["seq"]
                sub = self.subs.get(topic)
                if sub is None or seq > sub.seq:
                    self.problems.append(f"{self.label}: {topic} seq {seq} before auth's reply"
                                         f" but not counted in it: {seen.raw}")  # fmt: skip
                else:
                    self.ledger.record(topic, sub.epoch, seq, seen.raw, self.label)
        elif op == "subscribe":
            known = self.subs.get(data["topic"])
            if not data["recovered"]:
                self.subs[data["topic"]] = Sub(data["epoch"], data["seq"])
            elif known is None or known.epoch != data["epoch"]:
                self.subs[data["topic"]] = Sub(data["epoch"], fields["since"])
            elif fields["since"] < known.start:  # since < start = current: replayed up to start
                known.seq = known.start = fields["since"]
            # Otherwise since >= start: nothing is replayed (protocol.md, recovery).
        elif op == "unsubscribe":
            self.subs.pop(fields["topic"], None)

    # -- requests --------------------------------------------------------------------------

    def asked(self, rid: Any) -> dict[str, Any]:
        """The fields of the request this connection sent with id ``rid``."""
        return self._sent.get(rid, ("?", {}))[1]

    async def request(self, op: str, *, within: float = TIMEOUT, **fields: Any) -> Seen:
        """Send ``{"type": op, "id": .., **fields}``; its reply (``.at`` is its position)."""
        rid = next(self._ids)
        self._sent[rid] = (op, fields)
        future: asyncio.Future[Seen] = asyncio.get_running_loop().create_future()
        self._replies[rid] = future
        try:
            await self.ws.send(json.dumps({"type": op, "id": rid, **fields}))
            async with asyncio.timeout(within):
                return await future
        except TimeoutError:
            what = f"no reply to {op} {fields} (id {rid})"
            raise AssertionError(self.stuck(what, within)) from None
        finally:
            self._replies.pop(rid, None)

    async def ok(self, op: str, **fields: Any) -> Any:
        """Send a request that must succeed; its ``data``."""
        seen = await self.request(op, **fields)
        assert seen.frame["ok"], f"{self.label}: {op} {fields} failed: {seen.raw}"
        return seen.data

    async def error(self, op: str, **fields: Any) -> str:
        """Send a request that must fail; its error code."""
        seen = await self.request(op, **fields)
        assert not seen.frame["ok"], f"{self.label}: {op} {fields} succeeded: {seen.raw}"
        code: str = seen.frame["error"]["code"]
        return code

    async def auth(self, token: str) -> Any:
        """Authenticate; the reply's data."""
        data = await self.ok("auth", token=token)
        self.token = token
        return data

    async def subscribe(
        self, topic: str, since: int | None = None, epoch: str | None = None
    ) -> Any:
        """Subscribe (recovering from ``since`` in ``epoch`` when given); the reply's data."""
        if since is None:
            return await self.ok("subscribe", topic=topic)
        return await self.ok("subscribe", topic=topic, since=since, epoch=epoch)

    # -- waiting ---------------------------------------------------------------------------

    def events(self, topic: str, event: str | None = None) -> list[Seen]:
        """The events of ``topic`` (named ``event``) this connection has had so far."""
        return [
            s
            for s in self.frames
            if s.frame["type"] == "event"
            and s.frame["topic"] == topic
            and (event is None or s.frame["event"] == event)
        ]

    def seen(self, topic: str, event: str | None = None) -> list[Seen]:
        """The same as ``events`` (what ``Player.seen`` is for a chain of connections)."""
        return self.events(topic, event)

    async def wait_event(
        self,
        topic: str,
        event: str | None = None,
        match: Callable[[Any], bool] = lambda data: True,
        *,
        after: int = 0,
        within: float = TIMEOUT,
    ) -> Seen:
        """The first event at or after position ``after`` matching; waits up to ``within`` s."""
        what = f"{event or 'an event'} on {topic}"
        return await self.wait(
            lambda s: (
                s.frame["type"] == "event"
                and s.frame["topic"] == topic
                and (event is None or s.frame["event"] == event)
                and match(s.data)
            ),
            what,
            after=after,
            within=within,
        )

    async def wait(
        self, check: Callable[[Seen], bool], what: str, *, after: int = 0, within: float = TIMEOUT
    ) -> Seen:
        """The first frame at or after ``after`` for which ``check`` holds."""
        at = after
        try:
            async with asyncio.timeout(within):
                while True:
                    for seen in self.frames[at:]:
                        if check(seen):
                            return seen
                    at = len(self.frames)
                    if self.ended.is_set():
                        raise AssertionError(
                            self.stuck(f"closed ({self.close_code}) before {what}")
                        )
                    self.news.clear()
                    await self.news.wait()
        except TimeoutError:
            raise AssertionError(self.stuck(f"no {what}", within)) from None

    async def until(
        self, check: Callable[[Conn], bool], what: str, *, within: float = TIMEOUT
    ) -> None:
        """Wait until ``check(self)`` holds (it is tried again after every frame)."""
        try:
            async with asyncio.timeout(within):
                while not check(self):
                    if self.ended.is_set():
                        raise AssertionError(
                            self.stuck(f"closed ({self.close_code}) before {what}")
                        )
                    self.news.clear()
                    await self.news.wait()
        except TimeoutError:
            raise AssertionError(self.stuck(f"no {what}", within)) from None

    async def reach(self, topic: str, seq: int, *, within: float = TIMEOUT) -> None:
        """Wait until this connection has had ``topic``'s events up to ``seq``."""
        await self.until(lambda conn: _at(conn, topic) >= seq, f"{topic} seq {seq}", within=within)

    async def wait_closed(self, within: float = TIMEOUT) -> int | None:
        """Wait until the hub ends the connection; its close code."""
        try:
            async with asyncio.timeout(within):
                await self.ended.wait()
        except TimeoutError:
            raise AssertionError(self.stuck("the connection stayed open", within)) from None
        return self.close_code

    def stuck(self, what: str, within: float | None = None) -> str:
        bound = f" within {within:g} s" if within is not None else ""
        last = "\n".join(f"  {s.raw[:300]}" for s in self.frames[-6:])
        where = f"{self.label} (slot {self.slot})"
        return f"{where}: {what}{bound}; last frames:\n{last}\n{self.context()}"

    async def close(self) -> None:
        """Close the connection (abort when the hub does not answer) and stop reading."""
        with contextlib.suppress(*Failure):
            async with asyncio.timeout(3):
                await self.ws.close()
        self.ws.transport.abort()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


def _at(conn: Conn, topic: str) -> int:
    """The last seq of ``topic`` that ``conn`` had (-1 when not subscribed)."""
    sub = conn.subs.get(topic)
    return -1 if sub is None else sub.seq
