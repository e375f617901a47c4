"""The fair queue: who is paired with whom, and when.

Theory of operation
-------------------
A player waiting in the queue (``play "*"``) is a ``Waiting`` entry: their name, their shown
rating value, the ``rules`` and ``best_of`` they asked for, and since when they have waited
(unix milliseconds).  Only entries with the same ``rules`` and ``best_of`` (the same *pool*) are
ever paired.

Each entry has a *gap* that starts at ``GAP_START`` (100) and widens by ``GAP_STEP`` (50) for every
full ``GAP_EVERY`` (5 s) it has waited: ``100 + 50 * floor(waited / 5 s)``.  Two entries may be
paired when their ratings differ by at most the gap of the one who has waited longer.  The
longer wait has earned the wider gap: someone far from everyone else still gets a game once they
have waited long enough, however many others come and go, and the rating change makes up for an
uneven game (an upset gains more, a loss to a stronger player costs less).

``pairs`` serves the longest waiter first: in order of ``since`` (then name ignoring case), each
entry not yet paired takes the compatible entry nearest in rating that its gap admits (on a tie,
the one who has waited longer, then name ignoring case) and takes the first seat, as the player
who queued first.  Nobody is paired twice, and when it returns, no two entries left could be
paired.  ``due`` says when the next pair becomes possible as the gaps widen, for the edge's timer.

Both are quadratic in the size of a pool at worst; a pool stays small because an entry with a
partner inside its gap is paired at once.  The lobby shows each pool's size (``summary``) and
announces a pool whose size changed (``changes``); both count anything in a pool (``Pooled``): these
entries, or the lobby's tickets (``protocol.lobby``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Protocol

from attrs import frozen

__all__ = [
    "GAP_EVERY",
    "GAP_START",
    "GAP_STEP",
    "Pool",
    "Pooled",
    "Waiting",
    "changes",
    "due",
    "pairs",
    "summary",
]

GAP_START = 100  # rating points a new entry's gap admits
GAP_STEP = 50  # points the gap widens by ...
GAP_EVERY = 5_000  # ... every full this many milliseconds of waiting


class Pooled(Protocol):
    """Anything waiting in a pool: a ``Waiting`` entry, or a ticket of the lobby's queue."""

    @property
    def pool(self) -> tuple[str, int]:
        """The ``rules`` and ``best_of`` it waits for."""
        ...


@frozen
class Waiting:
    """A player waiting in the queue."""

    player: str
    rating: int  # the shown rating value
    rules: str
    best_of: int
    since: int  # unix ms

    @property
    def pool(self) -> tuple[str, int]:
        """What an entry must share with another to be paired with it."""
        return (self.rules, self.best_of)

    def gap(self, now: int) -> int:
        """The rating difference this entry's wait admits at ``now``."""
        return GAP_START + GAP_STEP * (max(0, now - self.since) // GAP_EVERY)

    def admits(self, other: Waiting, now: int) -> bool:
        """True when the two may be paired at ``now``: the same pool, two players, and ratings
        within the gap of whichever has waited longer."""
        return (
            self.pool == other.pool
            and self.player.casefold() != other.player.casefold()
            and abs(self.rating - other.rating) <= max(self.gap(now), other.gap(now))
        )

    @property
    def _order(self) -> tuple[int, str, str]:
        return (self.since, self.player.casefold(), self.player)


@frozen
class Pool:
    """How many players wait for one ``rules`` and ``best_of``."""

    rules: str
    best_of: int
    waiting: int

    def to_json(self) -> dict[str, object]:
        """The wire form: an entry of the lobby's ``queue`` and the ``queue`` event's data."""
        return {"rules": self.rules, "best_of": self.best_of, "waiting": self.waiting}


def pairs(waiting: Iterable[Waiting], now: int) -> list[tuple[Waiting, Waiting]]:
    """The pairs to make at ``now``, each with the longer waiter first, in the order made."""
    made: list[tuple[Waiting, Waiting]] = []
    for pool in _pools(waiting).values():
        taken: set[int] = set()
        for i, chooser in enumerate(pool):
            if i in taken:
                continue
            best: tuple[tuple[int, int, str, str], int] | None = None
            for j in range(i + 1, len(pool)):
                other = pool[j]
                if j in taken or not chooser.admits(other, now):
                    continue
                rank = (abs(chooser.rating - other.rating), *other._order)
                if best is None or rank < best[0]:
                    best = (rank, j)
            if best is not None:
                taken.update((i, best[1]))
                made.append((chooser, pool[best[1]]))
    made.sort(key=lambda pair: pair[0]._order)
    return made


def due(waiting: Iterable[Waiting], now: int) -> int | None:
    """The earliest time from ``now`` on at which ``pairs`` would pair someone; None when no
    two entries share a pool."""
    earliest: int | None = None
    for pool in _pools(waiting).values():
        for i, first in enumerate(pool):
            for other in pool[i + 1 :]:
                if first.player.casefold() == other.player.casefold():
                    continue
                difference = abs(first.rating - other.rating)
                steps = max(0, -(-(difference - GAP_START) // GAP_STEP))
                at = max(now, first.since + steps * GAP_EVERY)
                if earliest is None or at < earliest:
                    earliest = at
    return earliest


def summary(waiting: Iterable[Pooled]) -> list[Pool]:
    """The lobby's ``queue``: each pool with someone waiting, by rules then best_of."""
    counts = Counter(w.pool for w in waiting)
    return [Pool(rules, best_of, n) for (rules, best_of), n in sorted(counts.items())]


def changes(before: Iterable[Pooled], after: Iterable[Pooled]) -> list[Pool]:
    """The pools whose size differs between two states of the queue (0 for one now empty), by
    rules then best_of: one ``queue`` event each."""
    old = Counter(w.pool for w in before)
    new = Counter(w.pool for w in after)
    return [
        Pool(rules, best_of, new[(rules, best_of)])
        for rules, best_of in sorted(old.keys() | new.keys())
        if old[(rules, best_of)] != new[(rules, best_of)]
    ]


def _pools(waiting: Iterable[Waiting]) -> dict[tuple[str, int], list[Waiting]]:
    """The entries by pool, each pool longest waiter first."""
    pools: dict[tuple[str, int], list[Waiting]] = {}
    for w in sorted(waiting, key=lambda w: w._order):
        pools.setdefault(w.pool, []).append(w)
    return pools
