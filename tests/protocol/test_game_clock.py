"""The game's clocks: the idle limit (a game left without a move ends abandoned) and resuming,
which gives the open round a fresh full deadline (time the hub was down never counts)."""

from __future__ import annotations

import random

import attrs

from protocol.game import COMPUTER, Game, GameOver, Reason, Status
from protocol.rules import builtin_rules

RPS3 = builtin_rules()["rps3"]
T0 = 1_000_000
IDLE = 600.0


def game_of(
    players: tuple[str, str] = ("ann", COMPUTER),
    *,
    round_seconds: float = 0.0,
    idle_seconds: float = 0.0,
    best_of: int = 5,
) -> Game:
    """A game started at ``T0``, round 1 open."""
    game, _ = Game.start(
        id="g1",
        rules=RPS3,
        best_of=best_of,
        players=players,
        now=T0,
        rng=random.Random(3),
        epoch="e1",
        round_seconds=round_seconds,
        idle_seconds=idle_seconds,
    )
    return game


def tie(game: Game) -> str:
    """The computer's committed roll, which ties the open round."""
    assert game.secret is not None
    return game.secret.roll


# -- the idle limit --------------------------------------------------------------------------


def test_a_game_with_an_idle_limit_opens_round_one_with_it_and_no_deadline() -> None:
    game = game_of(idle_seconds=IDLE)
    assert (game.deadline, game.idle_until, game.due) == (None, T0 + 600_000, T0 + 600_000)


def test_a_game_without_an_idle_limit_has_nothing_due() -> None:
    game = game_of()
    assert (game.idle_until, game.due) == (None, None)
    assert game.expire(1, now=T0 + 10**12, rng=random.Random(0)) == []
    assert game.status is Status.PLAYING


def test_expire_before_the_idle_limit_does_nothing() -> None:
    game = game_of(idle_seconds=IDLE)
    before = attrs.asdict(game)
    assert game.expire(1, now=T0 + 599_999, rng=random.Random(0)) == []
    assert attrs.asdict(game) == before


def test_a_game_left_idle_ends_abandoned_without_playing_its_open_round() -> None:
    game = game_of(idle_seconds=IDLE)
    game.move("ann", tie(game), None, now=T0 + 1000, rng=random.Random(0))
    effects = game.expire(2, now=T0 + 601_000, rng=random.Random(0))
    assert effects == [
        GameOver(winner=None, reason=Reason.ABANDONED, score={"ann": 0, COMPUTER: 0})
    ]
    assert (game.status, game.reason, game.winner, game.finished) == (
        Status.FINISHED,
        Reason.ABANDONED,
        None,
        T0 + 601_000,
    )
    assert (game.round, len(game.rounds), game.idle_until, game.due) == (2, 1, None, None)


def test_each_new_round_restarts_the_idle_limit() -> None:
    game = game_of(idle_seconds=IDLE)
    game.move("ann", tie(game), None, now=T0 + 5000, rng=random.Random(0))
    assert game.idle_until == T0 + 5000 + 600_000


def test_a_move_restarts_the_idle_limit_while_the_other_seat_thinks() -> None:
    game = game_of(("ann", "bob"), idle_seconds=IDLE)
    game.move("ann", "Rock", None, now=T0 + 7000, rng=random.Random(0))
    assert game.idle_until == T0 + 7000 + 600_000


def test_a_round_deadline_due_first_is_lost_on_time_not_abandoned() -> None:
    game = game_of(round_seconds=30, idle_seconds=IDLE)
    assert game.due == T0 + 30_000
    effects = game.expire(1, now=T0 + 30_000, rng=random.Random(0))
    assert game.rounds[0].moves["ann"] is None
    assert not any(isinstance(e, GameOver) for e in effects)


# -- resuming --------------------------------------------------------------------------------


def test_resume_gives_the_open_round_a_fresh_full_deadline_from_now() -> None:
    game = game_of(round_seconds=30)
    game.resume(now=T0 + 90_000)
    assert game.deadline == T0 + 90_000 + 30_000


def test_resume_keeps_the_commitment_and_the_pending_moves() -> None:
    game = game_of(("ann", "bob"), round_seconds=30)
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    computer = game_of(round_seconds=30)
    before = (game.pending, computer.secret, computer.commitment)
    game.resume(now=T0 + 90_000)
    computer.resume(now=T0 + 90_000)
    assert (game.pending, computer.secret, computer.commitment) == before
    assert (game.round, computer.round) == (1, 1)


def test_resume_restarts_the_idle_limit_from_now() -> None:
    game = game_of(idle_seconds=IDLE)
    game.resume(now=T0 + 10**9)
    assert game.idle_until == T0 + 10**9 + 600_000


def test_resume_of_a_game_without_clocks_changes_nothing() -> None:
    game = game_of()
    before = attrs.asdict(game)
    game.resume(now=T0 + 90_000)
    assert attrs.asdict(game) == before


def test_resume_of_a_finished_game_changes_nothing() -> None:
    game = game_of(round_seconds=30, idle_seconds=IDLE)
    game.resign("ann", now=T0 + 1)
    before = attrs.asdict(game)
    game.resume(now=T0 + 90_000)
    assert attrs.asdict(game) == before
