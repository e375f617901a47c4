"""A node's lobby changes go together in one hold of the lobby lock (``hub.cluster.sections``).

On a cluster node in the test's process (a fresh PostgreSQL schema, a private ``redis-server``):
the changes waiting while one hold is under way are made one after the other in the next and
stored in one commit; one that fails is taken back alone, the others are stored; a change that
gives up waiting is not made at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hub import keys
from hub.cluster import sections
from hub.cluster.changes import Published
from hub.cluster.doc import load
from hub.cluster.feed import ClusterFeed
from hub.cluster.node import ClusterHub
from hub.cluster.redis_state import Busy
from hub.cluster.sections import LobbySections, Section
from hub.service import GameHub
from tests.hub.wsclient import Clients


def parts(node: TestServer) -> tuple[GameHub, ClusterFeed, ClusterHub]:
    hub: GameHub = node.app[keys.HUB]
    feed = hub.feed
    assert isinstance(feed, ClusterFeed), "a cluster node"
    return hub, feed, feed.cluster


async def active_in_redis(cluster: ClusterHub) -> set[str]:
    """The players the lobby document stored in Redis holds as active."""
    return set(load(await cluster.state.load()).lobby.active.values())


@asynccontextmanager
async def held(line: LobbySections[Any], then: Callable[[], object] = list) -> AsyncIterator[None]:
    """A change under way while the body of the ``async with`` runs: the changes asked for
    meanwhile wait in line behind it.  It makes ``then()`` once let go, and has ended after."""
    holding, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with line.section():
            holding.set()
            await release.wait()
            then()

    task = asyncio.create_task(first())
    await holding.wait()
    try:
        yield
    finally:
        release.set()
        await task


async def test_changes_waiting_together_are_one_commit_and_a_failed_one_is_taken_back_alone(
    node: TestServer, clients: Clients
) -> None:
    hub, feed, cluster = parts(node)
    lobby = await clients.lobby(node)
    made_before, holds_before = feed.changes, feed.holds

    async def joins(name: str) -> None:
        async with feed.section():
            hub._publish_effects(hub.lobby.join(name))

    async def fails() -> None:
        async with feed.section():
            hub._publish_effects(hub.lobby.join("ghost"))  # made, then the change fails
            raise RuntimeError("refused half-way")

    async with held(feed, then=lambda: hub._publish_effects(hub.lobby.join("ann"))):
        waiting = [
            asyncio.create_task(joins("bob")),
            asyncio.create_task(fails()),
            asyncio.create_task(joins("carl")),
        ]
        await asyncio.sleep(0.05)  # all of them in line behind the hold under way
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["NoneType", "RuntimeError", "NoneType"]
    assert (feed.changes - made_before, feed.holds - holds_before) == (3, 1)  # one commit
    assert await active_in_redis(cluster) == {"ann", "bob", "carl"}
    joined = [(await lobby.event("lobby", "player_joined"))["data"]["name"] for _ in range(3)]
    assert joined == ["ann", "bob", "carl"]
    await lobby.assert_quiet()  # no ghost


async def test_a_change_that_gives_up_waiting_is_not_made(
    node: TestServer, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, feed, cluster = parts(node)
    monkeypatch.setattr(sections, "TURN_WAIT", 0.2)

    async def joins(name: str) -> None:
        async with feed.section():
            hub._publish_effects(hub.lobby.join(name))

    async with held(feed):
        with pytest.raises(Busy, match=r"waited 0\.2 s for their turn"):
            await joins("late")
    await joins("bob")  # the line goes on
    assert await active_in_redis(cluster) == {"bob"}


class Steps(LobbySections[list[str]]):
    """The line and its driver over a document in memory (a list of names): what a hold does
    around the changes, without Redis."""

    def __init__(self, *, out_fails: bool = False) -> None:
        super().__init__()
        self.stored: list[str] = []  # the document as last committed
        self.doc: list[str] = []  # the document the changes of a hold work on
        self.released: list[str] = []
        self.out_fails = out_fails

    async def _take(self) -> str:
        self.doc = list(self.stored)
        return "token"

    def _snapshot(self) -> list[str]:
        return list(self.doc)

    def _restore(self, document: list[str]) -> None:
        if document == ["poison"]:
            raise ValueError("not a document")
        self.doc = list(document)

    async def _store(self, section: Section, made: int) -> list[Published]:
        self.stored = list(self.doc)
        self.released.append(section.token)
        return []

    async def _out(self, section: Section, published: list[Published]) -> None:
        if self.out_fails:
            raise ConnectionError("Redis went away as the events went out")

    async def _let_go(self, token: str) -> None:
        self.released.append(token)


async def test_changes_stored_return_when_their_events_cannot_go_out() -> None:
    steps = Steps(out_fails=True)

    async def add(name: str) -> None:
        async with steps.section():
            steps.doc.append(name)

    async with asyncio.timeout(5):  # they returned: none waits for ever on its hold
        await asyncio.gather(add("ann"), add("bob"))
    assert steps.stored == ["ann", "bob"]


async def test_a_hold_that_cannot_put_a_change_back_fails_and_lets_the_lock_go() -> None:
    steps = Steps()

    async def breaks() -> None:
        async with steps.section():
            steps.doc.append("ghost")
            raise RuntimeError("refused half-way")

    async def add(name: str) -> None:
        async with steps.section():
            steps.doc.append(name)

    steps._snapshot = lambda: ["poison"]  # type: ignore[method-assign]
    first = asyncio.create_task(add("ann"))
    failing = asyncio.create_task(breaks())
    after = asyncio.create_task(add("bob"))
    async with asyncio.timeout(5):
        results = await asyncio.gather(first, failing, after, return_exceptions=True)
    # ann's hold failed as the failed change could not be taken back: nothing of it stored, its
    # lock let go at once; bob, still in line, went in the next hold.
    assert [type(r).__name__ for r in results] == ["ValueError", "RuntimeError", "NoneType"]
    assert steps.stored == ["bob"]
    assert steps.released == ["token", "token"]


async def test_changes_given_as_functions_are_made_by_the_hold_itself_in_their_order() -> None:
    steps = Steps()

    def add(name: str) -> int:
        steps.doc.append(name)
        return len(steps.doc)

    def fails() -> int:
        steps.doc.append("ghost")
        raise RuntimeError("refused half-way")

    async def nested() -> int:
        async with steps.section():
            steps.doc.append("dan")
            return await steps.change(lambda: add("erin"))  # made in the section, at once

    async with held(steps, then=lambda: steps.doc.append("ann")):
        waiting = [
            asyncio.create_task(steps.change(lambda: add("bob"))),
            asyncio.create_task(steps.change(fails)),
            asyncio.create_task(steps.change(lambda: add("carl"))),
            asyncio.create_task(nested()),
        ]
        await asyncio.sleep(0.01)  # all of them in line behind the change under way
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert [r if isinstance(r, int) else type(r).__name__ for r in results] == [
        2, "RuntimeError", 3, 5,
    ]  # fmt: skip
    assert steps.stored == ["ann", "bob", "carl", "dan", "erin"]
    assert (steps.changes, steps.holds) == (4, 1)  # erin was part of dan's change


async def test_a_change_given_as_a_function_that_gives_up_waiting_is_not_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps = Steps()
    monkeypatch.setattr(sections, "TURN_WAIT", 0.2)
    async with held(steps):
        with pytest.raises(Busy, match=r"waited 0\.2 s for their turn"):
            await steps.change(lambda: steps.doc.append("late"))
    await steps.change(lambda: steps.doc.append("bob"))
    assert steps.stored == ["bob"]
