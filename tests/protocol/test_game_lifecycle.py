"""Random moves, deadlines and resignations against the game's invariants."""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from protocol.errors import ProtocolError
from protocol.game import COMPUTER, Game, Reason, RoundOpened, Status, commitment_of
from protocol.rules import builtin_rules
from tests.protocol.gamehelpers import T0


class GameLifecycle(RuleBasedStateMachine):
    """Random moves, deadlines and resignations against the game's invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.game: Game
        self.rng = random.Random(0)
        self.now = T0
        self.was_finished = False

    @initialize(
        computer=st.booleans(),
        best_of=st.sampled_from([1, 3, 5, 15]),
        round_seconds=st.sampled_from([0.0, 30.0]),
        rules=st.sampled_from(["rps3", "rpsls", "rps15"]),
        seed=st.integers(0, 2**16),
    )
    def start(
        self, computer: bool, best_of: int, round_seconds: float, rules: str, seed: int
    ) -> None:
        self.rng = random.Random(seed)
        self.game, effects = Game.start(
            id="g",
            rules=builtin_rules()[rules],
            best_of=best_of,
            players=("ann", COMPUTER if computer else "bob"),
            now=self.now,
            rng=self.rng,
            epoch="e",
            round_seconds=round_seconds,
        )
        assert effects == [
            RoundOpened(round=1, deadline=self.game.deadline, commitment=self.game.commitment)
        ]

    def attempt(self, action: Callable[[], object]) -> None:
        """Run an action; when it raises, the state must be exactly as before."""
        before = attrs.asdict(self.game)
        try:
            action()
        except ProtocolError:
            assert attrs.asdict(self.game) == before

    @rule(
        player=st.sampled_from(["ann", "bob", "BOB", COMPUTER, "eve"]),
        roll=st.sampled_from(["Rock", "paper", " SCISSORS", "Rok"]),
        offset=st.sampled_from([None, None, None, 0, -1, -3, 1]),
    )
    def move(self, player: str, roll: str, offset: int | None) -> None:
        """A move for the open round (None), an earlier one, or the next one."""
        self.now += 1
        round = None if offset is None else self.game.round + offset
        self.attempt(lambda: self.game.move(player, roll, round, now=self.now, rng=self.rng))

    @rule(offset=st.integers(-1, 1), wait=st.integers(0, 3))
    def expire(self, offset: int, wait: int) -> None:
        """A deadline timer fires, maybe early, maybe for a stale round."""
        self.now += 30_000 if wait == 0 else 1
        self.game.expire(self.game.round + offset, now=self.now, rng=self.rng)

    @rule(player=st.sampled_from(["ann", "bob", "eve"]), dice=st.integers(0, 4))
    def resign(self, player: str, dice: int) -> None:
        """Someone gives up, now and then."""
        if dice == 0:
            self.now += 1
            self.attempt(lambda: self.game.resign(player, now=self.now))

    @invariant()
    def scores_never_exceed_rounds_played(self) -> None:
        assert sum(self.game.score.values()) <= len(self.game.rounds)

    @invariant()
    def rounds_are_numbered_from_one(self) -> None:
        assert [r.round for r in self.game.rounds] == list(range(1, len(self.game.rounds) + 1))

    @invariant()
    def the_open_round_follows_the_played_ones(self) -> None:
        played = len(self.game.rounds)
        if self.game.is_over:
            assert self.game.round in (played, played + 1)
        else:
            assert self.game.round == played + 1

    @invariant()
    def a_finished_game_has_no_deadline_and_no_commitment(self) -> None:
        if self.game.is_over:
            assert self.game.deadline is None
            assert self.game.commitment is None
            assert self.game.finished is not None and self.game.reason is not None

    @invariant()
    def a_won_or_timed_out_game_has_a_winner_with_enough_round_wins(self) -> None:
        if self.game.reason in (Reason.WON, Reason.TIMEOUT):
            assert self.game.winner is not None
            assert self.game.score[self.game.winner] == self.game.wins_needed

    @invariant()
    def a_live_game_has_no_seat_with_enough_round_wins(self) -> None:
        if not self.game.is_over:
            assert max(self.game.score.values()) < self.game.wins_needed

    @invariant()
    def a_finished_game_never_plays_again(self) -> None:
        if self.was_finished:
            assert self.game.status is Status.FINISHED
        self.was_finished = self.game.is_over

    @invariant()
    def computer_rounds_reveal_what_was_committed(self) -> None:
        for r in self.game.rounds:
            if self.game.against_computer:
                roll = r.moves[COMPUTER]
                assert roll is not None and r.nonce is not None
                assert r.commitment == commitment_of(roll, r.nonce)
            else:
                assert r.commitment is None


GameLifecycle.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_game_lifecycles_keep_their_invariants = GameLifecycle.TestCase
