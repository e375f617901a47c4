"""What the storage contract tests share: a game driven the way the hub drives it, and checks."""

from __future__ import annotations

import asyncio
import random

import attrs

from protocol.game import COMPUTER, Effect, Game
from protocol.rules import RuleSet, builtin_rules
from protocol.wire import effect_event
from storage.base import (
    Storage,
    StoredEvent,
)

RPS3 = builtin_rules()["rps3"]
RPS15 = builtin_rules()["rps15"]
T0 = 1_700_000_000_000


@attrs.define
class Table:
    """Drives one game the way the hub does: each transition is saved with the events it made."""

    storage: Storage
    game: Game
    rng: random.Random
    now: int
    seq: int = 0

    @classmethod
    async def start(
        cls,
        storage: Storage,
        players: tuple[str, str],
        *,
        id: str = "g1",
        rules: RuleSet = RPS3,
        best_of: int = 3,
        round_seconds: float = 0.0,
        now: int = T0,
        seed: int = 1,
    ) -> Table:
        """Start a game and create it in storage with its first events."""
        rng = random.Random(seed)
        game, effects = Game.start(
            id=id,
            rules=rules,
            best_of=best_of,
            players=players,
            now=now,
            rng=rng,
            epoch=f"epoch-{id}",
            round_seconds=round_seconds,
        )
        table = cls(storage, game, rng, now)
        await storage.create_game(game, table.events(effects))
        return table

    def events(self, effects: list[Effect]) -> list[StoredEvent]:
        """The game-topic events of ``effects``, numbered after the last ones."""
        out = []
        for effect in effects:
            self.seq += 1
            name, data = effect_event(effect)
            out.append(StoredEvent(seq=self.seq, ts=self.now, event=name, data=data))
        return out

    def play(self, player: str, roll: str) -> list[StoredEvent]:
        """``player`` plays ``roll`` in the open round, one second later, in memory only: the
        events to save with the game."""
        self.now += 1000
        _, effects = self.game.move(player, roll, None, now=self.now, rng=self.rng)
        return self.events(effects)

    async def move(self, player: str, roll: str) -> None:
        """``player`` plays ``roll`` in the open round, one second later."""
        await self.storage.save_game(self.game, self.play(player, roll))

    async def round(self, a: str, b: str) -> None:
        """Both human seats move (``a`` for the first seat, ``b`` for the second)."""
        first, second = self.game.players
        await self.move(first, a)
        await self.move(second, b)

    async def win(self) -> None:
        """The human in the first seat beats the computer's committed roll."""
        assert self.game.secret is not None
        await self.move(self.game.players[0], beater(self.game.rules, self.game.secret.roll))

    async def lose(self) -> None:
        """The human in the first seat loses to the computer's committed roll."""
        assert self.game.secret is not None
        await self.move(self.game.players[0], beaten(self.game.rules, self.game.secret.roll))

    async def expire(self) -> None:
        """The open round's deadline passes."""
        assert self.game.deadline is not None
        self.now = self.game.deadline
        effects = self.game.expire(self.game.round, now=self.now, rng=self.rng)
        await self.storage.save_game(self.game, self.events(effects))

    async def resign(self, player: str) -> None:
        """``player`` gives up."""
        self.now += 1000
        await self.storage.save_game(self.game, self.events(self.game.resign(player, now=self.now)))


def beater(rules: RuleSet, roll: str) -> str:
    """A roll that beats ``roll``."""
    return next(r for r in rules.rolls if rules.outcome(r, roll) == 1)


def beaten(rules: RuleSet, roll: str) -> str:
    """A roll that loses to ``roll``."""
    return next(r for r in rules.rolls if rules.outcome(r, roll) == -1)


def assert_same_game(loaded: Game | None, game: Game) -> None:
    """Every field of ``loaded`` equals the one of ``game``, naming the first that differs."""
    assert loaded is not None
    for f in attrs.fields(Game):
        assert getattr(loaded, f.name) == getattr(game, f.name), f.name
    assert loaded == game


async def register(storage: Storage, *names: str) -> None:
    """Register players with a token hash derived from the name."""
    for i, name in enumerate(names):
        await storage.create_player(name, f"hash-{name}", T0 + i)


async def against_the_computer(storage: Storage, n: int) -> list[Table]:
    """``n`` players, each playing the computer (best of 5) in a game created all at once."""
    names = [f"p{i:03}" for i in range(n)]
    await register(storage, *names)
    return list(
        await asyncio.gather(
            *(
                Table.start(storage, (name, COMPUTER), id=f"g{i:03}", best_of=5, seed=i)
                for i, name in enumerate(names)
            )
        )
    )
