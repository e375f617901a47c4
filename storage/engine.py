"""The small interface between ``storage.store.SQLStore`` and a SQL backend.

``SQLStore`` writes every query once, with ``?`` placeholders, and asks the backend's ``Dialect``
for the few spellings that differ (placeholders, comparing names ignoring case, a list parameter).
A backend runs three kinds of work: a read (one read-only transaction, never behind a write), a
write (one transaction on the single writer), and a batch of saves (one transaction for all of
them).  How it connects, migrates and batches is its own business.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from attrs import field, frozen

from storage.base import StaleGame
from storage.sql import Row

T = TypeVar("T")
K = TypeVar("K")  # what a batch taken by ``Backend.store_batches`` is known by


class Session(Protocol):
    """A transaction that queries run in, written with ``?`` placeholders."""

    async def fetch(self, query: str, *args: Any) -> list[Row]:
        """Every row of ``query``."""
        ...

    async def fetchrow(self, query: str, *args: Any) -> Row | None:
        """The first row of ``query``, or None."""
        ...


class Dialect(Protocol):
    """How a backend spells what the SQL standard leaves open."""

    def fold(self, expr: str) -> str:
        """``expr`` as names compare ignoring case (names are ASCII)."""
        ...

    def in_texts(self, column: str) -> str:
        """A condition true when ``column`` is in the text list of one ``?`` parameter."""
        ...

    def texts(self, values: list[str]) -> Any:
        """``values`` as the parameter of ``in_texts``."""
        ...


@frozen
class Save:
    """One ``create_game`` or ``save_game``, its rows made before it was queued."""

    create: bool
    game_id: str
    # An update of a game still playing: the values of ``storage.sql.PLAYING_ROW`` (the columns a
    # move can change, seq, id and expected seq).  A new game, or one that ended: its ``games`` row
    # by column, ``seq`` included (None: keep the stored one), and for an update ``expected``: the
    # seq the stored row must still have, or None (``storage.sql.save_row``).
    game: dict[str, Any] | tuple[Any, ...]
    rounds: list[tuple[Any, ...]]  # (game_id, round, move_a, move_b, winner, commitment, nonce)
    events: list[tuple[Any, ...]]  # (game_id, seq, ts, event, data)
    # A rated game's end: (name_key, rating, deviation, volatility, rated, game_id, ts) per seat.
    ratings: list[tuple[Any, ...]] = field(factory=list)

    @property
    def what(self) -> str:
        """What the save does, for messages: ``create game X`` or ``save game X``."""
        return f"{'create' if self.create else 'save'} game {self.game_id}"

    @property
    def expected(self) -> int | None:
        """The seq an update needs the stored game to have (compare-and-set), or None."""
        game = self.game
        expected: int | None = game[-1] if isinstance(game, tuple) else game.get("expected")
        return expected


class NeverCreated(Exception):
    """A save of a game whose row is not there."""


def unmatched(save: Save, stored: int | None) -> BaseException:
    """What an update that matched no row is told: ``StaleGame`` when the game is stored at
    another seq (``stored``), ``NeverCreated`` when it is not stored at all."""
    if stored is None or save.expected is None:
        return NeverCreated()
    return StaleGame(save.game_id, save.expected, stored)


class Backend(Protocol):
    """A database that ``SQLStore`` runs its work on.

    ``read`` and ``write`` turn the database's errors into ``StorageError`` ("cannot WHAT: …") and
    let every other exception through; ``store`` reports each save's own outcome.
    """

    @property
    def dialect(self) -> Dialect:
        """How this backend spells what differs."""
        ...

    @property
    def where(self) -> str:
        """The database, for messages (without a password)."""
        ...

    async def read(self, what: str, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run ``work`` in one read-only transaction that no write holds up."""
        ...

    async def write(self, what: str, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction on the writer, committed before this returns."""
        ...

    async def store(self, saves: Sequence[Save]) -> list[BaseException | None]:
        """Store ``saves`` (different games) in one transaction, committed before this returns;
        when that fails for a save's own reason, each is stored alone so only its own fails (a
        backend may instead leave a stale save out of the batch and commit the rest).
        One outcome per save: None when it is committed, else what went wrong (``StaleGame``
        for an update that lost its compare-and-set, ``SeatTaken``, ``NeverCreated``, …)."""
        ...

    async def store_batches(
        self,
        take: Callable[[], tuple[K, Sequence[Save]] | None],
        settle: Callable[[K, list[BaseException | None]], None],
    ) -> None:
        """Store batch after batch, each as ``store`` does, for as long as ``take`` gives one;
        ``settle`` is told each batch's outcomes on the event loop.  A backend whose writer is a
        thread calls ``take`` there and goes on to the next batch at once, without waiting for
        the event loop to hand it over (``batches_on_loop`` is the way without a thread)."""
        ...

    async def close(self) -> None:
        """Close every connection (no work is running)."""
        ...


async def batches_on_loop(
    backend: Backend,
    take: Callable[[], tuple[K, Sequence[Save]] | None],
    settle: Callable[[K, list[BaseException | None]], None],
) -> None:
    """``Backend.store_batches`` for a backend that stores on the event loop: batch after batch."""
    while (taken := take()) is not None:
        token, saves = taken
        settle(token, await backend.store(saves))
