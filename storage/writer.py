"""The single writer of a ``storage.store.SQLStore``: units of work in turn, saves by group commit.

Writes wait in one queue, in the order they were asked for, and one task works through it while
it is not empty.  A unit of work (``create_player``) runs alone, in its own transaction.  The
saves (``create_game``, ``save_game``) at the head of the queue are taken together, up to
``MAX_BATCH``, and the backend stores them in one transaction; so the saves that arrive while a
write is in flight are stored together by the next one, and each caller is answered once its save
is committed (or has failed).  A batch never holds two saves of one game: the second waits for the
next batch, so each game's saves are stored in the order they were asked for.  Batches are taken
where the backend stores them (``Backend.store_batches``): on SQLite by the writer's thread, as
soon as the one before is committed (``_take``, under a lock the event loop shares); each batch's
callers are answered on the loop (``_settle``).

A save's rows are made when it is asked for, so the caller may change the game afterwards.  Only
the rounds past the last round this writer has committed for the game are sent; the backend's
insert skips rounds already stored (a resolved round never changes), so after a restart, when it
remembers nothing, every round is sent and the outcome is the same.  A caller cancelled before
its save is taken takes it out of the queue; one cancelled after waits for its batch to settle
before the cancellation goes on, so a cancelled save is all or nothing and the batch goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from protocol.game import Game
from storage import sql
from storage.base import RatingUpdate, StaleGame, StorageError, StoredEvent
from storage.engine import Backend, NeverCreated, Save, Session

__all__ = ["MAX_BATCH", "Writer"]

MAX_BATCH = 256  # saves in one transaction at most; the rest wait for the next one


class _Job:
    """One write waiting for the writer: a save to batch, or a unit of work to run alone.

    A plain class: made for every move, where attrs' ``__init__`` and a factory for the future
    cost two Python calls more."""

    __slots__ = ("_what", "finished", "future", "save", "settled", "taken", "work")

    def __init__(
        self,
        what: str | None,
        save: Save | None,
        work: Callable[[Session], Awaitable[Any]] | None,
    ) -> None:
        self._what = what  # None: the save's own (made only for a message)
        self.save = save
        self.work = work
        self.taken = False  # by the writer, into a batch or to run
        self.finished = False  # its batch (or the unit) is settled, on the event loop
        self.future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # Made by a caller cancelled after the job was taken, done once it is settled (its own
        # future is cancelled with it).
        self.settled: asyncio.Future[None] | None = None

    @property
    def what(self) -> str:
        """What the job does, for messages."""
        if self._what is None:
            assert self.save is not None
            return self.save.what
        return self._what


class Writer:
    """The queue of a store's writes and the task that works through it."""

    def __init__(self, backend: Backend) -> None:
        """Write through ``backend``."""
        self._backend = backend
        # Taken from by the backend's thread (``_take``) as well as by the event loop.
        self._jobs: deque[_Job] = deque()
        self._mutex = threading.Lock()
        self._inflight: list[list[_Job]] = []  # batches taken, not yet settled
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._last_round: dict[str, int] = {}  # game id -> the last round committed for it
        self.batches = 0  # batch transactions run
        self.saves = 0  # saves stored (or failed) in them
        self.largest_batch = 0
        self.retried = 0  # saves run again alone because their batch failed

    @property
    def queued(self) -> int:
        """Writes asked for that the writer has not taken yet."""
        return len(self._jobs)

    async def close(self) -> None:
        """Take no more writes; return once those already asked for are committed or failed."""
        self._closed = True
        if self._task is not None:
            await asyncio.wait([self._task])

    async def unit(self, what: str, work: Callable[[Session], Awaitable[Any]]) -> Any:
        """Run ``work`` in a transaction of its own, in turn with the other writes."""
        return await self._submit(_Job(what, None, work))

    async def save(
        self,
        game: Game,
        events: list[StoredEvent],
        *,
        create: bool,
        ratings: Sequence[RatingUpdate] = (),
        expected: int | None = None,
    ) -> None:
        """Store a new game (``create``) or a game's new state, with ``events`` (and a rated
        game's new ``ratings``), in a batch; an update only over the stored seq ``expected``.
        A new game's events take seqs 1, 2, ...; a save's follow one another (the first follows
        the stored seq: ``expected``)."""
        if events:
            first = 1 if create else events[0].seq
            for i, event in enumerate(events):
                if event.seq != first + i:
                    raise StorageError(
                        f"cannot {'create' if create else 'save'} game {game.id}: its events"
                        f" must take the next seqs of its topic, not"
                        f" {', '.join(str(e.seq) for e in events)}"
                    )
                if "," in event.event:  # a row joins a change's event names with commas
                    raise StorageError(
                        f"cannot {'create' if create else 'save'} game {game.id}: an event's"
                        f" name must have no comma, not {event.event!r}"
                    )
        last = 0 if create else self._last_round.get(game.id, 0)
        # Save's fields in order (create, game_id, game, rounds, events, ratings): positional,
        # as attrs' __init__ called with keywords is given a dict of them. Round n is
        # rounds[n - 1] (protocol.game): those past the last stored, by a slice.
        save = Save(
            create,
            game.id,
            sql.save_row(game, events, create=create, expected=expected),
            sql.round_rows(game, game.rounds[last:]),
            sql.event_rows(game.id, events),
            sql.rating_rows(game, ratings) if ratings else [],
        )
        job = _Job(None, save, None)
        self._queue(job)  # ``_submit``'s steps, here: a coroutine less between a move and its batch
        try:
            await job.future
        except asyncio.CancelledError:
            await self._cancelled(job)
            raise

    def _queue(self, job: _Job) -> None:
        """Queue a write, starting the task when it is idle."""
        if self._closed:
            raise StorageError(f"cannot {job.what}: the database {self._backend.where} is closed")
        self._jobs.append(job)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._work())

    async def _submit(self, job: _Job) -> Any:
        """Queue a write (starting the task when it is idle) and wait for its outcome."""
        self._queue(job)
        try:
            # Not shielded (a shield costs a task wake-up and a dozen calls per save): a
            # cancelled caller cancels the future, and the writer answers no cancelled future.
            return await job.future
        except asyncio.CancelledError:
            await self._cancelled(job)
            raise

    async def _cancelled(self, job: _Job) -> None:
        """The caller of ``job`` was cancelled: a job never begun is dropped; one begun with its
        batch is waited for until settled, so a cancelled save is all or nothing by the time
        the caller sees the cancellation (which the caller raises on return)."""
        with self._mutex:
            if not job.taken:
                self._jobs.remove(job)  # never begun: it is never done
                return
        if not job.finished:
            job.settled = settled = asyncio.get_running_loop().create_future()
            while not settled.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([settled])
        if job.future.done() and not job.future.cancelled():
            job.future.exception()  # retrieved: the caller is told of the cancellation

    async def _work(self) -> None:
        """Run the queued writes until none is left: units alone, saves in batches."""
        try:
            while self._jobs:
                with self._mutex:
                    job = self._jobs[0]
                    if job.save is None:
                        self._jobs.popleft()
                        job.taken = True
                if job.save is None:
                    try:
                        await self._run_unit(job)
                    finally:
                        _settled(job)
                else:
                    await self._backend.store_batches(self._take, self._settle)
        except BaseException:
            # The task itself was cancelled (the event loop is shutting down): no caller waits
            # for ever, and none is told its write was stored.
            with self._mutex:
                left = [job for batch in self._inflight for job in batch] + list(self._jobs)
                self._jobs.clear()
                self._inflight.clear()
            for job in left:
                _fail(job.future, StorageError(f"cannot {job.what}: the writer stopped"))
                _settled(job)
            raise

    def _take(self) -> tuple[list[_Job], list[Save]] | None:
        """The next batch: the saves at the head of the queue (of different games, up to
        ``MAX_BATCH``); None when a unit of work (or nothing) is next.  Called where the backend
        stores batches: its writer's thread, for SQLite."""
        with self._mutex:
            jobs = self._jobs
            batch: list[_Job] = []
            saves: list[Save] = []
            games: set[str] = set()
            while jobs and len(batch) < MAX_BATCH:
                job = jobs[0]
                save = job.save
                if save is None or save.game_id in games:
                    break
                jobs.popleft()
                job.taken = True
                batch.append(job)
                saves.append(save)
                games.add(save.game_id)
            if not batch:
                return None
            self._inflight.append(batch)
        return batch, saves

    async def _run_unit(self, job: _Job) -> None:
        assert job.work is not None
        try:
            result = await self._backend.write(job.what, job.work)
        except Exception as exc:
            _fail(job.future, exc)
        else:
            if not job.future.done():
                job.future.set_result(result)

    def _settle(self, batch: list[_Job], outcomes: list[BaseException | None]) -> None:
        """Answer a stored batch's callers (on the event loop)."""
        with self._mutex:
            if batch not in self._inflight:
                return  # failed already: the writer stopped
            self._inflight.remove(batch)
        saves = [job.save for job in batch]
        self.batches += 1
        self.saves += len(saves)
        self.largest_batch = max(self.largest_batch, len(saves))
        # A stale save is refused alone (PostgreSQL never fails its batch for it; on SQLite
        # that retry is not counted, as only two processes on one file can make one).
        if len(saves) > 1 and any(o is not None and not isinstance(o, StaleGame) for o in outcomes):
            self.retried += len(saves)
        for job, save, outcome in zip(batch, saves, outcomes, strict=True):
            assert save is not None
            if outcome is None:
                # What the last round committed for the game is (a finished game needs it no
                # more): inline, as this runs for every move.
                game = save.game
                if not isinstance(game, tuple) and game["status"] != "playing":
                    self._last_round.pop(save.game_id, None)
                elif save.rounds:
                    self._last_round[save.game_id] = save.rounds[-1][1]  # in order, as the game's
                if not job.future.done():
                    job.future.set_result(None)
            elif isinstance(outcome, NeverCreated):
                _fail(job.future, StorageError(f"cannot {save.what}: it was never created"))
            elif isinstance(outcome, StorageError):
                _fail(job.future, outcome)
            else:
                _fail(job.future, StorageError(f"cannot {save.what}: {outcome}"))
            _settled(job)


def _settled(job: _Job) -> None:
    job.finished = True
    if job.settled is not None and not job.settled.done():
        job.settled.set_result(None)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    """Fail a caller that still waits (one that was cancelled is told nothing)."""
    if not future.done():
        future.set_exception(exc)
