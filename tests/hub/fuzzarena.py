"""The WebSocket fuzzer's connections, each reply checked as it comes, and the hub they share."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from attrs import define
from websockets.exceptions import ConnectionClosed

from tests.hub.fuzzframes import Known, expected_id
from tests.hub.fuzzstrategies import NAME
from tests.hub.restclient import Rest
from tests.hub.wsclient import Frame, Peer, ws_url

CODES = {
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "rate_limited",
    "too_large",
    "unavailable",
    "internal",
}
REPLY_DATA = {  # the keys an ok reply's data may have, per op
    "auth": [{"player", "subscribed"}],
    "subscribe": [{"topic", "epoch", "seq", "recovered", "snapshot"}],
    "unsubscribe": [set()],
    "play": [{"game"}, {"challenge"}, {"queued"}, {"queued", "game"}],
    "accept": [{"game"}],
    "decline": [set()],
    "cancel": [set()],
    "move": [{"round"}],
    "resign": [set()],
}


class Conn:
    """A fuzzed connection: every reply is checked, every event's seq follows its topic."""

    _sentinels = itertools.count(1)

    def __init__(self, peer: Peer, known: Known, *, spectator: bool, limited: bool = False) -> None:
        self.peer = peer
        self.known = known
        self.spectator = spectator
        self.limited = limited  # every frame is refused unread

    async def recv(self) -> Frame:
        """The next frame; a closed connection fails the test with its close code."""
        try:
            frame = await self.peer.recv()
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            pytest.fail(f"the hub closed the connection with {code}")
        self.known.learn(frame)
        return frame

    async def send(self, text: str) -> Frame:
        """Send ``text``; returns its reply, the next reply frame, which must carry its id."""
        await self.peer.ws.send(text)
        while True:
            frame = await self.recv()
            if frame["type"] == "reply":
                break
            assert frame["type"] == "event", frame
        rid = expected_id(text)
        assert frame["id"] == rid and type(frame["id"]) is type(rid), (text[:200], frame)
        self.check(text, frame)
        return frame

    def check(self, text: str, reply: Frame) -> None:
        """``reply`` is well formed for the request ``text``; take the seq bases it announces."""
        if not reply["ok"]:
            assert set(reply) == {"type", "id", "ok", "error"}, reply
            assert set(reply["error"]) == {"code", "message"}, reply
            assert reply["error"]["code"] in CODES, reply
            assert isinstance(reply["error"]["message"], str), reply
            assert reply["error"]["code"] not in ("internal", "unavailable"), (text[:200], reply)
            if self.limited:
                assert reply["error"]["code"] == "rate_limited", reply
            elif self.spectator and _op(text) not in ("auth", "subscribe", "unsubscribe"):
                assert reply["error"]["code"] in ("bad_request", "unauthorized"), reply
            return
        assert set(reply) == {"type", "id", "ok", "data"}, reply
        obj = json.loads(text)  # only a readable request is answered ok
        op, data = obj["type"], reply["data"]
        assert set(data) in REPLY_DATA[op], (text[:200], reply)
        if self.spectator:
            assert op in ("subscribe", "unsubscribe"), (text[:200], reply)
        seqs = self.peer.seqs
        if op == "auth":
            for sub in data["subscribed"]:
                seqs[sub["topic"]] = sub["seq"]
        elif op == "subscribe":
            seqs[data["topic"]] = obj["since"] if data["recovered"] else data["seq"]
        elif op == "unsubscribe":
            topic = obj["topic"]
            kind, _, key = topic.partition(":")
            if kind == "player" and self.peer.name and key.casefold() == self.peer.name.casefold():
                topic = f"player:{self.peer.name}"
            seqs.pop(topic, None)

    async def settle(self) -> None:
        """Every frame sent so far has had its one reply: the next reply is a fresh request's."""
        rid = f"sentinel-{next(self._sentinels)}"
        reply = await self.send(json.dumps({"type": "unsubscribe", "id": rid, "topic": "game:-"}))
        assert reply["ok"] or self.limited, reply


def _op(text: str) -> Any:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return obj.get("type") if isinstance(obj, dict) else None


@define
class Arena:
    """One hub for every example, the idle player ``bob`` on it, and what was learnt so far.

    Each example opens its own two connections, so a failure stays with the example that caused
    it and Hypothesis can replay it.
    """

    server: Any
    rest: Rest
    bob: Peer
    known: Known

    @asynccontextmanager
    async def connections(self, *, limited: bool = False) -> AsyncIterator[tuple[Conn, Conn]]:
        """The fuzzed player's connection and a spectator's, closed at the end."""
        url = ws_url(self.server)
        player, spectator = await Peer.open(url), await Peer.open(url)
        try:
            if not limited:
                await player.ok("auth", token=self.known.token)
                player.name = NAME
                await self.reset(player)
            yield (
                Conn(player, self.known, spectator=False, limited=limited),
                Conn(spectator, self.known, spectator=True, limited=limited),
            )
        finally:
            await asyncio.gather(player.close(), spectator.close())

    async def reset(self, player: Peer) -> None:
        """No live game, queue ticket or challenge is left from an earlier example."""
        live = await self.rest.ok("GET", f"/api/games?player={NAME}&status=playing")
        for game in live["games"]:
            await player.ok("resign", game=game["id"])
        await player.ok("cancel")
        await self.bob.ok("cancel")
