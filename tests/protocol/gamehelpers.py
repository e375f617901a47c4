"""Games the game tests start: PvP and against the computer, at a fixed time and seed."""

from __future__ import annotations

import random

import attrs

from protocol.game import COMPUTER, Game, GameOver, Moved, RoundOpened, RoundPlayed
from protocol.rules import RuleSet, builtin_rules

RPS3 = builtin_rules()["rps3"]
RPS15 = builtin_rules()["rps15"]
T0 = 1_000_000


def pvp(best_of: int = 3, round_seconds: float = 0.0, rules: RuleSet = RPS3) -> Game:
    """A game between ann and bob, round 1 open."""
    game, _ = Game.start(
        id="g1",
        rules=rules,
        best_of=best_of,
        players=("ann", "bob"),
        now=T0,
        rng=random.Random(1),
        epoch="e1",
        round_seconds=round_seconds,
    )
    return game


def vs_computer(
    best_of: int = 5, round_seconds: float = 0.0, seed: int = 7, rules: RuleSet = RPS3
) -> tuple[Game, list[RoundOpened | Moved | RoundPlayed | GameOver]]:
    """A game between ann and the computer, round 1 open, and its start effects."""
    return Game.start(
        id="g2",
        rules=rules,
        best_of=best_of,
        players=("ann", COMPUTER),
        now=T0,
        rng=random.Random(seed),
        epoch="e2",
        round_seconds=round_seconds,
    )


def beater(rules: RuleSet, roll: str) -> str:
    """A roll that beats ``roll``."""
    return next(r for r in rules.rolls if rules.outcome(r, roll) == 1)


def play_round(game: Game, a: str, b: str) -> list[RoundOpened | Moved | RoundPlayed | GameOver]:
    """Both seats of a PvP game move; returns the effects of the resolving move."""
    game.move("ann", a, None, now=T0, rng=random.Random(0))
    return game.move("bob", b, None, now=T0, rng=random.Random(0))[1]


def snapshot(game: Game) -> dict[str, object]:
    return attrs.asdict(game)
