"""Provable fairness: the computer commits to each roll, and rolls uniformly."""

from __future__ import annotations

import hashlib
import random
from collections import Counter

from protocol.game import COMPUTER, Game, RoundOpened, RoundPlayed, commitment_of
from tests.protocol.gamehelpers import RPS15, T0, play_round, pvp, vs_computer


def test_the_published_commitment_is_sha256_of_the_revealed_roll_and_nonce() -> None:
    game, effects = vs_computer(rules=RPS15)
    opened = effects[0]
    assert isinstance(opened, RoundOpened) and opened.commitment is not None
    assert game.commitment == opened.commitment
    _, effects = game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    played = effects[1]
    assert isinstance(played, RoundPlayed)
    roll, nonce = played.result.moves[COMPUTER], played.result.nonce
    assert roll is not None and nonce is not None
    digest = hashlib.sha256(f"{roll}:{nonce}".encode()).hexdigest()
    assert digest == opened.commitment == played.result.commitment


def test_each_round_against_the_computer_commits_afresh() -> None:
    game, opened = vs_computer(best_of=15, rules=RPS15)
    rng = random.Random(5)
    for _ in range(5):
        _, step = game.move("ann", "Rock", None, now=T0, rng=rng)
        opened += [e for e in step if isinstance(e, RoundOpened)]
    commitments = {e.commitment for e in opened if isinstance(e, RoundOpened)}
    assert len(commitments) == len(opened) == 6


def test_the_nonce_is_128_bits_of_hex() -> None:
    game, _ = vs_computer()
    assert game.secret is not None
    assert len(game.secret.nonce) == 32
    int(game.secret.nonce, 16)


def test_commitment_of_matches_hashlib() -> None:
    expected = hashlib.sha256(b"Rock:00ff").hexdigest()
    assert commitment_of("Rock", "00ff") == expected


def test_a_pvp_game_publishes_no_commitment() -> None:
    game = pvp()
    assert game.commitment is None
    effects = play_round(game, "Rock", "Rock")
    played = effects[1]
    assert isinstance(played, RoundPlayed)
    assert (played.result.commitment, played.result.nonce) == (None, None)


def test_the_computer_rolls_are_roughly_uniform_over_the_rules() -> None:
    rng = random.Random(2024)
    draws = 6000
    counts: Counter[str] = Counter()
    for i in range(draws):
        game, _ = Game.start(
            id=f"g{i}",
            rules=RPS15,
            best_of=1,
            players=("ann", COMPUTER),
            now=T0,
            rng=rng,
            epoch="e",
        )
        assert game.secret is not None
        counts[game.secret.roll] += 1
    expected = draws / len(RPS15.rolls)
    chi2 = sum((counts[r] - expected) ** 2 / expected for r in RPS15.rolls)
    # 14 degrees of freedom: the 99.9th percentile is about 36.1.
    assert set(counts) == set(RPS15.rolls)
    assert chi2 < 36.1


def test_the_same_seed_gives_the_same_computer_rolls() -> None:
    first, _ = vs_computer(seed=99, rules=RPS15)
    second, _ = vs_computer(seed=99, rules=RPS15)
    assert first.secret == second.secret
