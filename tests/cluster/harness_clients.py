"""The clients of a test: connections to any node, REST calls, and the checks over all of them.

``Clients`` opens ``Conn``s (``harness_conn``) to the node behind a slot, as spectators or as
players (registered over REST first), moves a player to another node with recovery, and at the
end ``assert_sound()`` fails with whatever any connection found wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import connect

from tests.cluster.harness import Cluster
from tests.cluster.harness_conn import TIMEOUT, Conn, Ledger, Seen, Sub
from tests.reliability.harness import call, http

__all__ = ["TIMEOUT", "Clients", "Conn", "Recover", "Seen", "Sub", "connected"]

Recover = tuple[str, int, str]  # a topic, the seq to recover after, its epoch


class Clients:
    """Opens connections to a cluster's nodes and closes them all at the end of a test."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.ledger = Ledger()
        self.conns: list[Conn] = []
        self.tokens: dict[str, str] = {}

    async def rest(
        self, slot: int, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """One REST call to the node behind ``slot``; status and JSON."""
        try:
            async with http() as session, asyncio.timeout(TIMEOUT):
                return await call(session, method, self.cluster.url(slot) + path, body, token=token)
        except TimeoutError:
            raise AssertionError(
                f"{method} {path} on slot {slot}: no answer within {TIMEOUT:g} s\n"
                f"{self.cluster.describe()}"
            ) from None

    async def get(self, slot: int, path: str) -> Any:
        """``GET path`` on ``slot``, which must answer 200; the body."""
        status, body = await self.rest(slot, "GET", path)
        assert status == 200, (slot, path, status, body)
        return body

    async def register(self, name: str, slot: int = 0) -> str:
        """Register ``name`` over REST on ``slot``; its token."""
        status, body = await self.rest(slot, "POST", "/api/players", {"name": name})
        assert status == 201, (name, status, body)
        self.tokens[name] = body["token"]
        return str(body["token"])

    async def connect(self, slot: int, label: str = "spectator", url: str | None = None) -> Conn:
        """A connection to ``slot``'s node (or to ``url``) whose welcome frame was read."""
        url = url or self.cluster.ws_url(slot)
        try:
            ws = await asyncio.wait_for(connect(url, max_queue=None, open_timeout=TIMEOUT), TIMEOUT)
            welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        except TimeoutError:
            raise AssertionError(
                f"{label}: no welcome from {url}\n{self.cluster.describe()}"
            ) from None
        assert welcome["type"] == "welcome", welcome
        conn = Conn(ws, slot, self.ledger, f"{label}@{slot}")
        conn.context = self.cluster.describe
        self.conns.append(conn)
        return conn

    async def player(self, name: str, slot: int) -> Conn:
        """A connection to ``slot`` authenticated as ``name`` (registered first if need be)."""
        token = self.tokens.get(name) or await self.register(name, slot)
        conn = await self.connect(slot, name)
        await conn.auth(token)
        return conn

    async def watcher(self, slot: int, *topics: str) -> Conn:
        """A spectator on ``slot`` subscribed to ``topics``."""
        conn = await self.connect(slot, f"watcher[{','.join(topics)}]")
        for topic in topics:
            await conn.subscribe(topic)
        return conn

    async def reconnect(self, old: Conn, slot: int, *topics: str | Recover) -> Conn:
        """``old``'s player (or spectator) again on ``slot``; then ``auth`` if ``old`` had.

        Each of ``topics`` is subscribed first, so that the hub can replay what was missed: a
        name recovers from where ``old`` was (a plain subscription if ``old`` had none), a
        ``(topic, since, epoch)`` from there.
        """
        conn = await self.connect(slot, old.label.split("@")[0])
        for topic in topics:
            if isinstance(topic, tuple):
                await conn.subscribe(*topic)
                continue
            sub = old.subs.get(topic)
            if sub is None or sub.epoch is None:
                await conn.subscribe(topic)
            else:
                await conn.subscribe(topic, sub.seq, sub.epoch)
        if old.token is not None:
            await conn.auth(old.token)
        return conn

    def problems(self) -> list[str]:
        """Everything every connection and the ledger found wrong."""
        return [p for c in self.conns for p in c.problems] + self.ledger.problems

    def assert_sound(self) -> None:
        """Fail with every problem found, if any."""
        problems = self.problems()
        assert not problems, "\n".join(problems)

    async def close(self) -> None:
        """Close every connection."""
        await asyncio.gather(*(c.close() for c in self.conns))


@contextlib.asynccontextmanager
async def connected(cluster: Cluster) -> AsyncIterator[Clients]:
    """``Clients`` of ``cluster`` whose connections are all closed on exit."""
    clients = Clients(cluster)
    try:
        yield clients
    finally:
        await clients.close()
