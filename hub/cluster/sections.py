"""A cluster node's changes of the lobby, several to one hold of the lobby lock.

Every change of the lobby is a *section* (``ClusterFeed.section``): it runs on the lobby document
loaded from Redis under the hub's lobby lock, and what it changed is stored with its events in
one atomic step.  Taking the lock with the document and storing them are two Redis round trips,
and on a busy node the event loop's turns between them took longer than the change itself:
about 3 ms a change, 2 of them waiting (``benchmarks/cluster.py`` at 100 players, where ~300
changes a second, games against the computer starting and ending, queued for a quarter of a
second each).

So a node's changes wait in line here (first come first, ``TURN_WAIT`` seconds at most, then
``Busy``) and one task, the *driver*, serves the line: it takes the lock and loads the document
once, lets the changes waiting then run one after the other on it (each in its own task; at most
``GROUP_LIMIT`` of them, and none begins after ``GROUP_SECONDS``, well within the lock's 5 s),
stores them in one commit, delivers their events in their order, and only then lets them return.
A change that fails is taken back alone: the document as it was before it is put back and what it
added to the commit is dropped, so the others are stored and it is not.  A section's body runs
in its caller's task, so each costs two turns of the event loop (the driver hands it the hold,
it hands it back), a few milliseconds on a busy node; the frequent changes that await nothing
(a game's end, a game against the computer told, connections in and out) are given as a
function instead (``change``), which the driver runs itself as it comes to it.  A commit that fails
fails every change in it, as one change's did.  ``rps_hub_cluster_lobby_changes`` counts the
changes a node stored, ``rps_hub_cluster_lobby_holds`` the holds (commits) they took.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar, cast

from attrs import define, field

from hub.cluster.changes import Append, Op, Published
from hub.cluster.redis_state import Busy
from protocol.game import Game
from storage.base import StoredEvent

log = logging.getLogger(__name__)

D = TypeVar("D")  # the document (``ClusterFeed``: a ``hub.cluster.doc.LobbyDoc``)
T = TypeVar("T")

TURN_WAIT = 5.0  # seconds a change waits for its turn on this node (as for the lock in Redis)
GROUP_LIMIT = 100  # changes stored in one hold of the lobby lock, at most
GROUP_SECONDS = 0.5  # no change begins in a hold held this long (the lock lasts 5 s)


@define
class Section:
    """One hold of the lobby lock: its token, and what its changes will store and deliver."""

    token: str
    stored: asyncio.Future[None]  # the commit and its deliveries are done (or failed)
    ops: list[Op] = field(factory=list)
    appends: list[Append] = field(factory=list)
    after: list[tuple[Game, list[StoredEvent]]] = field(factory=list)  # game events made in it
    forget: list[str] = field(factory=list)  # players who left: their topics go once stored

    def marks(self) -> tuple[int, int, int]:
        return len(self.ops), len(self.appends), len(self.forget)

    def undo(self, marks: tuple[int, int, int]) -> None:
        """Drop what a failed change added (its game events stay: they are stored already)."""
        del self.ops[marks[0] :], self.appends[marks[1] :], self.forget[marks[2] :]


@define
class _Turn:
    """A change waiting in line: its task, its turn (the hold it runs in), and its end.  A
    change given as a function (``apply``) is run by the driver itself, in the hold, and its
    ``go`` is the hold and the result; a section's body runs in its own task once ``go`` is the
    hold, and says through ``done`` whether it ran to its end."""

    task: asyncio.Task[Any] | None
    go: asyncio.Future[Any]
    done: asyncio.Future[bool]  # True: the change ran to its end; False: it failed or gave up
    apply: Callable[[], Any] | None = None


_BOUND: contextvars.ContextVar[tuple[Section, asyncio.Task[Any] | None] | None] = (
    contextvars.ContextVar("section", default=None)
)


class LobbySections(Generic[D]):
    """The line of a node's lobby changes and its driver; ``ClusterFeed`` supplies the steps
    (``_take``, ``_snapshot``, ``_restore``, ``_store``, ``_let_go``, ``_out``)."""

    changes: int  # changes stored
    holds: int  # holds of the lock that stored changes (commits)

    def __init__(self) -> None:
        self._line: deque[_Turn] = deque()
        self._driver: asyncio.Task[None] | None = None
        self.changes = self.holds = 0

    def current(self) -> Section | None:
        """The section this task is in, if any."""
        bound = _BOUND.get()
        if bound is not None and bound[1] is asyncio.current_task():
            return bound[0]
        return None  # none, or a timer or task started inside one that has ended

    async def change(self, apply: Callable[[], T]) -> T:
        """One change of the lobby made by ``apply``, which awaits nothing: the driver runs it
        in its hold as it comes to it, with no turn of the event loop to wait for as a section's
        body has (made at once when already in a section).  Its result once stored."""
        if self.current() is not None:
            return apply()
        turn = self._enter(apply)
        try:
            async with asyncio.timeout(TURN_WAIT):
                section, result = await turn.go
        except TimeoutError:
            if not turn.go.done() or turn.go.cancelled():
                raise self._busy() from None
            section, result = turn.go.result()  # made as the wait ran out: stored all the same
        await asyncio.shield(section.stored)  # stored and delivered, or the commit's failure
        return cast(T, result)

    def _enter(self, apply: Callable[[], Any] | None = None) -> _Turn:
        loop = asyncio.get_running_loop()
        turn = _Turn(asyncio.current_task(), loop.create_future(), loop.create_future(), apply)
        self._line.append(turn)
        if self._driver is None:
            self._driver = asyncio.create_task(self._drive(), name="lobby changes")
        return turn

    @staticmethod
    def _busy() -> Busy:
        return Busy(f"the lobby is busy (this node's changes waited {TURN_WAIT:g} s for their"
                    " turn); try again")  # fmt: skip

    @asynccontextmanager
    async def section(self) -> AsyncIterator[None]:
        """One change of the lobby, under the hub's lobby lock (joined when already in one)."""
        if self.current() is not None:
            yield
            return
        turn = self._enter()
        try:
            async with asyncio.timeout(TURN_WAIT):
                section = await turn.go
        except BaseException as exc:
            if turn.go.done() and not turn.go.cancelled():
                if turn.go.exception() is not None:
                    raise  # the lock could not be had (``Busy``, Redis down)
                turn.done.set_result(False)  # its turn came as it gave up: the driver goes on
            if isinstance(exc, TimeoutError):
                raise self._busy() from None
            raise
        bound = _BOUND.set((section, turn.task))
        ended = False
        try:
            yield
            ended = True
        finally:
            _BOUND.reset(bound)
            turn.done.set_result(ended)
        await asyncio.shield(section.stored)  # stored and delivered, or the commit's failure

    async def _drive(self) -> None:
        """Serve the line until it is empty: a hold of the lock for the changes waiting."""
        try:
            while self._line:
                if all(t.go.done() for t in self._line):  # every one gave up waiting
                    self._line.clear()
                    break
                try:
                    await self._hold()
                except Exception as exc:  # the changes of that hold raise it
                    log.debug("a hold of the lobby lock failed: %s", exc)
        finally:
            self._driver = None

    async def _hold(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            token = await self._take()
        except Exception as exc:  # Busy, Redis down: the changes waiting fail with it
            while self._line:
                turn = self._line.popleft()
                if not turn.go.done():
                    turn.go.set_exception(exc)
            return
        section = Section(token, loop.create_future())
        began, made = loop.time(), 0
        before: D | None = None  # the document as it is now, when it is not None
        try:
            while self._line and made < GROUP_LIMIT and loop.time() - began < GROUP_SECONDS:
                turn = self._line.popleft()
                if turn.go.done():
                    continue  # gave up waiting
                if before is None:
                    before = self._snapshot()
                marks = section.marks()
                if turn.apply is not None:
                    ran = self._apply(section, turn)
                else:
                    turn.go.set_result(section)
                    ran = await turn.done
                if ran:
                    made, before = made + 1, None
                else:
                    section.undo(marks)
                    self._restore(before)
            published = await self._store(section, made)
        except BaseException as exc:
            if isinstance(exc, Exception):
                section.stored.set_exception(exc)
                section.stored.exception()  # retrieved: raised by its changes still waiting
            else:
                section.stored.cancel()
            await self._let_go(section.token)
            await self._out(section, [])
            raise
        self.changes += made
        self.holds += made > 0
        try:
            await self._out(section, published)
        except Exception as exc:  # the relay catches up from Redis, a game's from PostgreSQL
            log.warning("the events of a lobby change did not all go out here: %s", exc)
        finally:  # stored: its changes return even when their events could not go out here
            section.stored.set_result(None)

    def _apply(self, section: Section, turn: _Turn) -> bool:
        """Run a change given as a function, here in the driver's task: whether it ran to its
        end (its caller gets its result, or its exception)."""
        assert turn.apply is not None
        bound = _BOUND.set((section, asyncio.current_task()))
        try:
            result = turn.apply()
        except Exception as exc:
            turn.go.set_exception(exc)
            return False
        finally:
            _BOUND.reset(bound)
        turn.go.set_result((section, result))
        return True

    # -- the steps, supplied by ``ClusterFeed`` ----------------------------------------------

    async def _take(self) -> str:
        """Take the lobby lock and load the document; the lock's token."""
        raise NotImplementedError

    def _snapshot(self) -> D:
        """The document as it is now, apart from it."""
        raise NotImplementedError

    def _restore(self, document: D) -> None:
        """Put the document back as it was (``document`` stays as it is)."""
        raise NotImplementedError

    async def _store(self, section: Section, made: int) -> list[Published]:
        """Store the hold's changes with their events and let the lock go (only that when
        ``made`` is 0); the events published."""
        raise NotImplementedError

    async def _let_go(self, token: str) -> None:
        """Let the lock go after a failure (never raises: it expires by itself anyway)."""
        raise NotImplementedError

    async def _out(self, section: Section, published: list[Published]) -> None:
        """Deliver the hold's lobby and player events, then the game events made in it."""
        raise NotImplementedError
