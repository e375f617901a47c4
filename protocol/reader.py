"""The computer's levels: ``random`` (uniform) and ``reader``, which plays against habits.

Theory of operation
-------------------
The computer's roll for round n is chosen when round n opens, from what was known then: the
player's earlier rounds against the computer, in this game and their earlier games, oldest first.
Its commitment is published at once, so it cannot depend on the player's move for round n; the
functions here take no such move, so they could not look at it if they wanted to.

``random`` draws every roll uniformly.  ``reader`` predicts the player's next roll and plays a
roll that beats the prediction.  It reads at most the last ``HISTORY_LIMIT`` (200) rounds and
runs a handful of predictors over them, each a table of what the player played next in a
context:

- how often they play each roll, over the window and over their last ``RECENT`` (20) rounds;
- after their own last roll, and after their last two;
- after the computer's last roll;
- after a win, a loss or a draw: which roll, which roll given their own last roll or the
  computer's last roll, and how far along the rule set's roll order from their own last roll or
  the computer's last roll (``rps15`` and ``rps3`` are circular in that order, so "the next roll
  after mine" is one habit, not fifteen).

Each predictor is scored as it goes by how much better than chance it predicted the roll that
came (a score that forgets at ``DECAY`` per round), and the predictions are mixed in proportion
to the square of each positive score.  The reader then plays a roll with the best expected result
against that mix: in ``rps15``, where 7 rolls beat any roll, this is the one that also beats the
player's next-likely rolls; rolls within ``MARGIN`` of the best are drawn among at random.  With
nothing to go on yet (no predictor beats chance) it plays uniformly at random.  Randomness comes
from the caller's random source (``secrets.SystemRandom()`` in production), so a seeded
``random.Random`` makes it reproducible.  Each call costs O(window * predictors).

A round whose player move is missing (the deadline passed) counts as a loss for the player and
teaches nothing about their rolls; a round naming a roll not in the rule set is skipped.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Protocol, TypeAlias

from protocol.errors import BadMessage
from protocol.rules import RuleSet

__all__ = [
    "DEFAULT_LEVEL",
    "HISTORY_LIMIT",
    "LEVELS",
    "Played",
    "Seen",
    "check_level",
    "computer_roll",
    "reader_roll",
    "seen_in",
]

LEVELS = ("random", "reader")
DEFAULT_LEVEL = "random"
HISTORY_LIMIT = 200  # rounds the reader reads, the latest
RECENT = 20  # rounds the recent-frequency predictor counts
DECAY = 0.95  # how much of a predictor's score survives each round
MARGIN = 0.05  # rolls this close to the best expected result are drawn among

COMPUTER = "computer"  # protocol.game.COMPUTER; not imported, so that the game can import this

Seen: TypeAlias = tuple[str | None, str]
"""A past round as the computer saw it: the player's roll (None: missed the deadline), its own."""

_Step: TypeAlias = tuple[int | None, int, int]  # player's roll index, computer's, player's outcome
_Key: TypeAlias = tuple[Hashable, int] | None  # a predictor's context and the roll it counts from


def check_level(value: object) -> str:
    """Validate ``level``: ``random`` or ``reader`` (any case); returns the lower-case name."""
    if isinstance(value, str) and value.casefold() in LEVELS:
        return value.casefold()
    raise BadMessage(f"field 'level' must be one of {', '.join(LEVELS)}")


class Played(Protocol):
    """A resolved round (``protocol.game.Round``): each seat's roll, None for a missed move."""

    @property
    def moves(self) -> Mapping[str, str | None]: ...


def seen_in(rounds: Iterable[Played], player: str) -> list[Seen]:
    """A game's resolved rounds against the computer as ``reader_roll`` takes them."""
    seen: list[Seen] = []
    for r in rounds:
        computer = r.moves.get(COMPUTER)
        if computer is not None:
            seen.append((r.moves.get(player), computer))
    return seen


def computer_roll(level: str, rules: RuleSet, history: Sequence[Seen], rng: random.Random) -> str:
    """The computer's roll for the round that is opening, at ``level``."""
    if level == "reader":
        return reader_roll(rules, history, rng)
    if level == "random":
        return rng.choice(rules.rolls)
    raise ValueError(f"unknown level {level!r}")


def reader_roll(rules: RuleSet, history: Sequence[Seen], rng: random.Random) -> str:
    """The reader's roll for the round that is opening, from the player's earlier rounds against
    the computer (oldest first; only the last ``HISTORY_LIMIT`` are read)."""
    rolls = rules.rolls
    n = len(rolls)
    index = {roll: i for i, roll in enumerate(rolls)}
    beats = [[rules.outcome(a, b) for b in rolls] for a in rolls]
    steps: list[_Step] = []
    for player, computer in history[-HISTORY_LIMIT:]:
        c = index.get(computer)
        p = index.get(player) if player is not None else None
        if c is None or (player is not None and p is None):
            continue
        steps.append((p, c, -1 if p is None else beats[p][c]))

    tables: list[dict[Hashable, list[int]]] = [{} for _ in range(_PREDICTORS)]
    scores = [0.0] * _PREDICTORS
    chance = 1.0 / n
    for t, (p, _, _) in enumerate(steps):
        if p is not None:
            for k, key in enumerate(_keys(steps, t)):
                if key is None:
                    continue
                context, origin = key
                target = (p - origin) % n
                table = tables[k].get(context)
                if table is None or table[n] == 0:
                    table = tables[k].setdefault(context, [0] * (n + 1))
                    scores[k] *= DECAY
                else:
                    scores[k] = scores[k] * DECAY + table[target] / table[n] - chance
                table[target] += 1
                table[n] += 1
        if t >= RECENT:
            _forget(tables[_RECENT_INDEX], steps[t - RECENT][0], n)

    mix = [0.0] * n
    total = 0.0
    for k, key in enumerate(_keys(steps, len(steps))):
        table = tables[k].get(key[0]) if key is not None else None
        if key is None or table is None or table[n] == 0 or scores[k] <= 0:
            continue
        weight = scores[k] * scores[k]
        total += weight
        for target in range(n):
            if table[target]:
                mix[(target + key[1]) % n] += weight * table[target] / table[n]
    if total == 0:
        return rng.choice(rolls)
    expected = [sum(mix[x] * beats[r][x] for x in range(n)) / total for r in range(n)]
    best = max(expected)
    if best <= 0:
        return rng.choice(rolls)
    return rng.choice([rolls[r] for r in range(n) if expected[r] >= best - MARGIN])


# -- the predictors ----------------------------------------------------------------------------

_PREDICTORS = 10
_RECENT_INDEX = 1


def _keys(steps: Sequence[_Step], t: int) -> list[_Key]:
    """Each predictor's context for round ``t`` from the rounds before it, and the roll index
    its table counts from (0: it counts rolls themselves)."""
    if t == 0:
        return [((), 0), ((), 0)] + [None] * (_PREDICTORS - 2)
    p1, c1, o1 = steps[t - 1]
    p2 = steps[t - 2][0] if t >= 2 else None
    return [
        ((), 0),  # how often, over the window
        ((), 0),  # how often, lately (the table forgets what is older than RECENT)
        ((p1,), 0) if p1 is not None else None,  # after their own last roll
        ((p1, p2), 0) if p1 is not None and p2 is not None else None,  # after their last two
        ((c1,), 0),  # after the computer's last roll
        ((o1,), 0),  # after a win, loss or draw
        ((o1, p1), 0) if p1 is not None else None,  # ... and their own last roll
        ((o1, c1), 0),  # ... and the computer's last roll
        ((o1,), p1) if p1 is not None else None,  # ... how far along from their own last roll
        ((o1,), c1),  # ... how far along from the computer's last roll
    ]


def _forget(tables: dict[Hashable, list[int]], roll: int | None, n: int) -> None:
    """Take a round that left the recent window out of the recent-frequency table."""
    table = tables.get(())
    if roll is not None and table is not None:
        table[roll] -= 1
        table[n] -= 1
