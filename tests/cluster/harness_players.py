"""A player who keeps playing while nodes die: reconnects elsewhere, recovers, retries safely.

``Player`` holds a chain of ``Conn``s (the latest is the live one).  When its connection ends, or
an answer is lost with it, it reconnects to a slot whose node runs, subscribes each of its live
games' topics with ``since``/``epoch`` *before* ``auth`` (so the missed events are replayed), and
sends the request again: moves name their round and keep their roll, so a retry is safe.  A reply
``unavailable`` is retried after a pause; anything else is returned to the caller.  Every
acknowledged move goes to ``Acks``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from attrs import define, field
from websockets.exceptions import WebSocketException

from tests.cluster.harness_clients import TIMEOUT, Clients, Conn, Recover, Seen
from tests.cluster.harness_games import Acks, move

PERSIST = 30.0  # how long one action keeps trying through failures
Lost = (ConnectionError, OSError, WebSocketException)


@define
class Player:
    """One player's connections over time and the games it follows."""

    clients: Clients
    name: str
    conn: Conn
    acks: Acks
    rng: random.Random
    chain: list[Conn] = field(factory=list)
    live: set[str] = field(factory=set)  # the topics it follows (its games not yet over)
    epochs: dict[str, str] = field(factory=dict)  # game topics' epochs, from the stored game
    reconnects: int = 0
    unavailable: int = 0

    @classmethod
    async def join(
        cls, clients: Clients, name: str, slot: int, acks: Acks, rng: random.Random
    ) -> Player:
        """Register ``name`` and connect it to ``slot``."""
        conn = await clients.player(name, slot)
        return cls(clients, name, conn, acks, rng, [conn])

    # -- connections -----------------------------------------------------------------------

    def slots(self) -> list[int]:
        """The slots whose node runs now."""
        c = self.clients.cluster
        return [s for s in range(c.slots) if c.node(s).running]

    async def reconnect(self, slot: int | None = None) -> Conn:
        """Move to ``slot`` (default: a random running one), recovering every live game."""
        deadline = time.monotonic() + PERSIST
        while True:
            choices = self.slots()
            target = slot if slot is not None else self.rng.choice(choices) if choices else 0
            try:
                conn = await self.clients.reconnect(
                    self.conn, target, *(self._recover(t) for t in sorted(self.live))
                )
            except (*Lost, AssertionError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
                slot = None
                continue
            self.reconnects += 1
            with contextlib.suppress(*Lost):
                await self.conn.close()
            self.conn = conn
            self.chain.append(conn)
            return conn

    def _recover(self, topic: str) -> str | Recover:
        """How a new connection subscribes to ``topic``: from where the chain is."""
        sub = self.conn.subs.get(topic)
        if sub is not None and sub.epoch is not None and sub.start <= self.contiguous(topic):
            return topic  # from where the last connection was
        if topic in self.epochs:
            return (topic, self.contiguous(topic), self.epochs[topic])
        return topic

    def contiguous(self, topic: str) -> int:
        """How many of a game topic's events, from seq 1 on, the chain has without a hole."""
        n = 0
        for s in self.seen(topic):
            if s.frame["seq"] != n + 1:
                break
            n += 1
        return n

    async def follow(self, game: str) -> None:
        """Follow ``game``'s topic from seq 1 from now on, through every reconnection.

        The hub subscribes a seat at the game's start, but the connection that had it may be
        gone, or ``auth`` on a new one subscribed it late: then the hole is filled by
        ``unsubscribe`` and ``subscribe`` with ``since`` (protocol.md, recovery).
        """
        topic = f"game:{game}"
        self.live.add(topic)
        if topic not in self.epochs:
            self.epochs[topic] = (await self.get(f"/api/games/{game}"))["epoch"]
        with contextlib.suppress(AssertionError):
            await self.conn.until(lambda conn: topic in conn.subs, f"{topic} subscribed", within=3)
        deadline = time.monotonic() + PERSIST
        while True:
            if self.conn.ended.is_set():
                await self.reconnect()
            sub = self.conn.subs.get(topic)
            have = self.contiguous(topic)
            if sub is not None and sub.start <= have:
                return
            try:
                await self.conn.request("unsubscribe", topic=topic)
                await self.conn.subscribe(topic, have, self.epochs[topic])
                return
            except (*Lost, AssertionError):
                if time.monotonic() > deadline:
                    raise

    async def get(self, path: str) -> Any:
        """``GET path`` from a running node, trying others while nodes die; the 200 body."""
        deadline = time.monotonic() + PERSIST
        while True:
            slot = self.rng.choice(self.slots() or [0])
            try:
                status, body = await self.clients.rest(slot, "GET", path)
            except (*Lost, aiohttp.ClientError):
                status, body = None, None
            if status == 200:
                return body
            assert status in (None, 503), (path, status, body)
            if time.monotonic() > deadline:
                raise AssertionError(f"GET {path}: no node answered for {PERSIST:g} s")
            await asyncio.sleep(0.2)

    async def act(self, op: str, **fields: Any) -> Seen:
        """Send a request until it is answered with anything but ``unavailable``."""
        deadline = time.monotonic() + PERSIST
        while True:
            if self.conn.ended.is_set():
                await self.reconnect()
            try:
                reply = await self.conn.request(op, **fields)
            except Lost:
                if time.monotonic() > deadline:
                    raise
                continue
            if reply.frame["ok"] or reply.frame["error"]["code"] != "unavailable":
                return reply
            self.unavailable += 1
            if time.monotonic() > deadline:
                return reply
            await asyncio.sleep(0.2)

    async def move(self, game: str, round_: int, roll: str) -> Seen:
        """Move ``roll`` in ``round_`` through any failure; the reply (ok, or an error)."""
        deadline = time.monotonic() + PERSIST
        first = True
        while True:
            if self.conn.ended.is_set():
                await self.reconnect()
            try:
                reply = await move(self.conn, game, round_, roll, self.acks, check=first)
            except Lost:
                first = False
                if time.monotonic() > deadline:
                    raise
                continue
            if reply.frame["ok"] or reply.frame["error"]["code"] != "unavailable":
                return reply
            self.unavailable += 1
            first = False
            if time.monotonic() > deadline:
                return reply
            await asyncio.sleep(0.2)

    # -- what it saw -----------------------------------------------------------------------

    @property
    def label(self) -> str:
        """The player's name, for failure messages."""
        return self.name

    def seen(self, topic: str, event: str | None = None) -> list[Seen]:
        """The events of ``topic`` over every connection, once each, in seq order."""
        by_seq: dict[tuple[str | None, int], Seen] = {}
        for conn in self.chain:
            epoch = conn.subs[topic].epoch if topic in conn.subs else None
            for s in conn.events(topic, event):
                by_seq.setdefault((epoch, s.frame["seq"]), s)
        return [by_seq[k] for k in sorted(by_seq, key=lambda k: k[1])]

    async def reach(self, topic: str, seq: int, *, within: float = PERSIST) -> None:
        """Wait until the chain has had ``topic``'s events up to ``seq`` (reconnecting)."""
        await self.wait_seen(topic, None, {"@seq": seq}, within=within)

    async def wait_seen(
        self, topic: str, event: str | None, match: Any = None, *, within: float = PERSIST
    ) -> Seen:
        """The first ``event`` of ``topic`` (data matching) on any connection; reconnects when
        the live one ends, so that the recovery brings what was missed."""

        def found(player: Player) -> Seen | None:
            for s in player.seen(topic, event):
                if match is None or all(_has(s, k, v) for k, v in match.items()):
                    return s
            return None

        await self.until(lambda p: found(p) is not None, f"{event} {match or ''} on {topic}",
                         within=within)  # fmt: skip
        seen = found(self)
        assert seen is not None
        return seen

    async def until(
        self, check: Callable[[Player], bool], what: str, *, within: float = PERSIST
    ) -> None:
        """Wait until ``check(self)`` holds, reconnecting whenever the live connection ends."""
        deadline = time.monotonic() + within
        while not check(self):
            if time.monotonic() > deadline:
                raise AssertionError(self.conn.stuck(f"no {what}", within))
            if self.conn.ended.is_set():
                await self.reconnect()
                continue
            self.conn.news.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(1.0, max(0.01, deadline - time.monotonic()))):
                    await self.conn.news.wait()


def _has(seen: Seen, key: str, value: Any) -> bool:
    """True when the event's data has ``key`` = ``value`` (``@seq``: the frame's seq is >=)."""
    if key == "@seq":
        return bool(seen.frame["seq"] >= value)
    return bool(seen.data.get(key) == value)


__all__ = ["TIMEOUT", "Lost", "Player"]
