"""Finished games written through the real storage, for tests that need known winners."""

from __future__ import annotations

import random
from pathlib import Path

from protocol.game import COMPUTER, Game
from protocol.rules import builtin_rules
from storage.open import open_storage

RPS3 = builtin_rules()["rps3"]
LOSES_TO = {"Rock": "Scissors", "Paper": "Rock", "Scissors": "Paper"}


async def store_won_game(db: Path, game_id: str, winner: str, loser: str) -> None:
    """Store a finished best-of-1 rps3 game that ``winner`` won (either may be the computer)."""
    rng = random.Random(0)
    now = 1_700_000_000_000
    human_first = (loser, winner) if winner == COMPUTER else (winner, loser)
    game, _ = Game.start(
        id=game_id, rules=RPS3, best_of=1, players=human_first, now=now, rng=rng, epoch="seed"
    )
    if game.secret is not None:
        computer_roll = game.secret.roll
        human = game.players[0]
        roll = LOSES_TO[computer_roll] if winner == COMPUTER else _beats(computer_roll)
        game.move(human, roll, None, now=now + 1, rng=rng)
    else:
        game.move(winner, "Rock", None, now=now + 1, rng=rng)
        game.move(loser, "Scissors", None, now=now + 2, rng=rng)
    assert game.winner == winner
    storage = await open_storage(str(db))
    try:
        await storage.create_game(game, [])
    finally:
        await storage.close()


def _beats(roll: str) -> str:
    return next(r for r, beaten in LOSES_TO.items() if beaten == roll)
