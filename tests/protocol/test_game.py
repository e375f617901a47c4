"""The game state machine: rounds, scoring, repeats, deadlines, resigning, fairness."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from protocol.errors import BadMessage, Forbidden, IllegalMove, ProtocolError, UnknownRoll
from protocol.game import (
    COMPUTER,
    MAX_ROUNDS,
    Game,
    GameOver,
    Moved,
    Reason,
    Round,
    RoundOpened,
    RoundPlayed,
    Status,
    commitment_of,
)
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


# -- starting --------------------------------------------------------------------------------


def test_start_opens_round_one_and_returns_its_round_opened() -> None:
    game, effects = Game.start(
        id="g1",
        rules=RPS3,
        best_of=3,
        players=("ann", "bob"),
        now=T0,
        rng=random.Random(1),
        epoch="e1",
        round_seconds=30,
    )
    assert effects == [RoundOpened(round=1, deadline=T0 + 30_000, commitment=None)]
    assert (game.status, game.round, game.score) == (Status.PLAYING, 1, {"ann": 0, "bob": 0})


def test_a_game_without_round_seconds_has_no_deadline() -> None:
    assert pvp().deadline is None


def test_a_game_needs_two_different_players_ignoring_case() -> None:
    with pytest.raises(BadMessage):
        Game.start(
            id="g",
            rules=RPS3,
            best_of=3,
            players=("ann", "ANN"),
            now=T0,
            rng=random.Random(0),
            epoch="e",
        )


def test_the_computer_cannot_take_the_first_seat() -> None:
    with pytest.raises(BadMessage):
        Game.start(
            id="g",
            rules=RPS3,
            best_of=3,
            players=(COMPUTER, "ann"),
            now=T0,
            rng=random.Random(0),
            epoch="e",
        )


@pytest.mark.parametrize("best_of", [1, 3, 5, 7, 9, 11, 13, 15])
def test_every_odd_best_of_from_1_to_15_is_accepted(best_of: int) -> None:
    assert pvp(best_of=best_of).wins_needed == (best_of + 1) // 2


@pytest.mark.parametrize("best_of", [0, 2, 4, 14, 16, 17, -1, True, False, 3.0, "3", None])
def test_any_other_best_of_is_a_bad_message(best_of: object) -> None:
    with pytest.raises(BadMessage) as info:
        pvp(best_of=best_of)  # type: ignore[arg-type]
    assert info.value.code == "bad_request"
    assert "best_of" in info.value.message


# -- moves and rounds ------------------------------------------------------------------------


def test_the_first_move_of_a_pvp_round_yields_only_moved() -> None:
    game = pvp()
    assert game.move("ann", "Rock", None, now=T0, rng=random.Random(0)) == (
        1,
        [Moved(round=1, player="ann")],
    )


def test_the_first_move_stays_secret_until_the_second() -> None:
    game = pvp()
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    assert game.rounds == []
    assert game.round == 1


def test_the_second_move_resolves_the_round_and_opens_the_next() -> None:
    game = pvp()
    effects = play_round(game, "Rock", "Scissors")
    assert effects == [
        Moved(round=1, player="bob"),
        RoundPlayed(
            result=Round(round=1, moves={"ann": "Rock", "bob": "Scissors"}, winner="ann"),
            score={"ann": 1, "bob": 0},
        ),
        RoundOpened(round=2, deadline=None, commitment=None),
    ]


def test_seats_and_rolls_are_matched_ignoring_case() -> None:
    game = pvp()
    _, effects = game.move("ANN", "  rock ", None, now=T0, rng=random.Random(0))
    assert effects == [Moved(round=1, player="ann")]
    assert game.pending == {"ann": "Rock"}


def test_a_tied_round_counts_as_a_round_but_not_a_win() -> None:
    game = pvp()
    effects = play_round(game, "Paper", "Paper")
    assert effects[1] == RoundPlayed(
        result=Round(round=1, moves={"ann": "Paper", "bob": "Paper"}, winner=None),
        score={"ann": 0, "bob": 0},
    )
    assert (game.round, len(game.rounds)) == (2, 1)


@pytest.mark.parametrize("best_of", [1, 3, 5, 7, 9, 11, 13, 15])
def test_the_game_is_won_at_best_of_plus_one_over_two_round_wins(best_of: int) -> None:
    game = pvp(best_of=best_of)
    needed = (best_of + 1) // 2
    for _ in range(needed - 1):
        assert isinstance(play_round(game, "Rock", "Scissors")[-1], RoundOpened)
    last = play_round(game, "Rock", "Scissors")[-1]
    assert last == GameOver(winner="ann", reason=Reason.WON, score={"ann": needed, "bob": 0})


def test_a_won_game_is_finished_with_winner_and_time() -> None:
    game = pvp(best_of=1)
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    game.move("bob", "Paper", None, now=T0 + 5, rng=random.Random(0))
    assert (game.status, game.reason, game.winner, game.finished) == (
        Status.FINISHED,
        Reason.WON,
        "bob",
        T0 + 5,
    )


def test_the_round_stays_at_the_last_one_when_the_game_ends() -> None:
    game = pvp(best_of=3)
    play_round(game, "Rock", "Scissors")
    play_round(game, "Rock", "Scissors")
    assert game.round == 2


def test_ties_do_not_bring_the_end_closer() -> None:
    game = pvp(best_of=3)
    for _ in range(10):
        play_round(game, "Rock", "Rock")
    assert (game.status, game.round) == (Status.PLAYING, 11)


def test_round_50_with_no_winner_ends_the_game_drawn_whatever_the_score() -> None:
    game = pvp(best_of=15)
    for _ in range(MAX_ROUNDS - 1):
        play_round(game, "Rock", "Rock")
    effects = play_round(game, "Rock", "Scissors")
    assert effects[-1] == GameOver(winner=None, reason=Reason.DRAWN, score={"ann": 1, "bob": 0})
    assert (game.round, game.status, game.winner) == (MAX_ROUNDS, Status.FINISHED, None)


def test_the_drawn_game_over_effect_carries_no_winner_and_the_score() -> None:
    game = pvp(best_of=3)
    for _ in range(MAX_ROUNDS - 1):
        play_round(game, "Rock", "Rock")
    effects = play_round(game, "Paper", "Paper")
    assert effects[-1] == GameOver(winner=None, reason=Reason.DRAWN, score={"ann": 0, "bob": 0})
    assert len(game.rounds) == MAX_ROUNDS


def test_a_full_best_of_5_against_the_computer_is_won_by_beating_each_roll() -> None:
    game, _ = vs_computer(best_of=5)
    rng = random.Random(3)
    effects: list[RoundOpened | Moved | RoundPlayed | GameOver] = []
    while not game.is_over:
        assert game.secret is not None
        _, effects = game.move("ann", beater(RPS3, game.secret.roll), None, now=T0, rng=rng)
    assert effects[-1] == GameOver(winner="ann", reason=Reason.WON, score={"ann": 3, COMPUTER: 0})
    assert [r.round for r in game.rounds] == [1, 2, 3]
    assert all(r.winner == "ann" for r in game.rounds)


def test_a_move_against_the_computer_resolves_at_once() -> None:
    game, _ = vs_computer()
    assert game.secret is not None
    computer_roll = game.secret.roll
    _, effects = game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    assert [type(e) for e in effects] == [Moved, RoundPlayed, RoundOpened]
    played = effects[1]
    assert isinstance(played, RoundPlayed)
    assert played.result.moves == {"ann": "Rock", COMPUTER: computer_roll}


def test_a_full_game_against_the_computer_always_ends_with_a_winner_at_3() -> None:
    game, _ = vs_computer(best_of=5, seed=11)
    rng = random.Random(11)
    while not game.is_over:
        game.move("ann", "Rock", None, now=T0, rng=rng)
    assert game.reason is Reason.WON
    assert game.winner is not None and game.score[game.winner] == 3
    assert sum(game.score.values()) <= len(game.rounds)


# -- repeats and conflicts -------------------------------------------------------------------


def test_the_same_roll_for_a_pending_round_returns_no_effects() -> None:
    game = pvp()
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    before = snapshot(game)
    assert game.move("ann", "rock", None, now=T0, rng=random.Random(0)) == (1, [])
    assert snapshot(game) == before


def test_the_same_roll_for_a_pending_round_with_its_number_returns_no_effects() -> None:
    game = pvp()
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    assert game.move("ann", "Rock", 1, now=T0, rng=random.Random(0)) == (1, [])


def test_the_same_roll_for_a_resolved_round_returns_no_effects() -> None:
    game = pvp()
    play_round(game, "Rock", "Rock")
    before = snapshot(game)
    assert game.move("bob", "Rock", 1, now=T0, rng=random.Random(0)) == (1, [])
    assert snapshot(game) == before


def test_the_same_roll_after_the_game_ended_returns_no_effects() -> None:
    game = pvp(best_of=1)
    play_round(game, "Rock", "Scissors")
    assert game.is_over
    assert game.move("bob", "Scissors", 1, now=T0, rng=random.Random(0)) == (1, [])


def test_a_different_roll_for_a_pending_round_is_an_illegal_move() -> None:
    game = pvp()
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    with pytest.raises(IllegalMove) as info:
        game.move("ann", "Paper", None, now=T0, rng=random.Random(0))
    assert info.value.code == "conflict"


def test_a_different_roll_for_a_resolved_round_is_an_illegal_move() -> None:
    game = pvp()
    play_round(game, "Rock", "Rock")
    with pytest.raises(IllegalMove) as info:
        game.move("ann", "Paper", 1, now=T0, rng=random.Random(0))
    assert info.value.code == "conflict"


def test_a_different_roll_after_the_game_ended_is_an_illegal_move() -> None:
    game = pvp(best_of=1)
    play_round(game, "Rock", "Scissors")
    with pytest.raises(IllegalMove):
        game.move("ann", "Paper", 1, now=T0, rng=random.Random(0))


def test_a_round_not_yet_open_is_an_illegal_move() -> None:
    game = pvp()
    with pytest.raises(IllegalMove) as info:
        game.move("ann", "Rock", 2, now=T0, rng=random.Random(0))
    assert info.value.code == "conflict"


def test_a_move_without_round_in_a_finished_game_is_an_illegal_move() -> None:
    game = pvp(best_of=1)
    play_round(game, "Rock", "Scissors")
    with pytest.raises(IllegalMove) as info:
        game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    assert info.value.code == "conflict"


def test_a_repeat_for_a_round_the_seat_missed_is_an_illegal_move() -> None:
    game = pvp(round_seconds=1)
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    game.expire(1, now=T0 + 1000, rng=random.Random(0))
    with pytest.raises(IllegalMove):
        game.move("bob", "Rock", 1, now=T0, rng=random.Random(0))


@pytest.mark.parametrize("round", [0, -1])
def test_a_round_below_one_is_a_bad_message(round: int) -> None:
    with pytest.raises(BadMessage) as info:
        pvp().move("ann", "Rock", round, now=T0, rng=random.Random(0))
    assert info.value.code == "bad_request"


def test_an_unknown_roll_is_unknown_roll_and_leaves_the_state_untouched() -> None:
    game = pvp()
    before = snapshot(game)
    with pytest.raises(UnknownRoll):
        game.move("ann", "Spock", None, now=T0, rng=random.Random(0))
    assert snapshot(game) == before


def test_a_player_without_a_seat_is_forbidden_to_move() -> None:
    with pytest.raises(Forbidden) as info:
        pvp().move("eve", "Rock", None, now=T0, rng=random.Random(0))
    assert info.value.code == "forbidden"


def test_nobody_may_move_for_the_computer() -> None:
    game, _ = vs_computer()
    with pytest.raises(Forbidden):
        game.move(COMPUTER, "Rock", None, now=T0, rng=random.Random(0))


def test_an_illegal_move_leaves_the_state_untouched() -> None:
    game = pvp()
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    before = snapshot(game)
    with pytest.raises(IllegalMove):
        game.move("ann", "Paper", None, now=T0, rng=random.Random(0))
    assert snapshot(game) == before


# -- deadlines -------------------------------------------------------------------------------


def test_a_round_opens_with_a_deadline_round_seconds_ahead() -> None:
    game = pvp(round_seconds=30)
    play_round(game, "Rock", "Rock")
    assert game.deadline == T0 + 30_000


def test_expire_before_the_deadline_does_nothing() -> None:
    game = pvp(round_seconds=30)
    before = snapshot(game)
    assert game.expire(1, now=T0 + 29_999, rng=random.Random(0)) == []
    assert snapshot(game) == before


def test_expire_of_a_stale_round_does_nothing() -> None:
    game = pvp(round_seconds=30)
    play_round(game, "Rock", "Rock")
    before = snapshot(game)
    assert game.expire(1, now=T0 + 60_000, rng=random.Random(0)) == []
    assert snapshot(game) == before


def test_expire_without_a_deadline_does_nothing() -> None:
    game = pvp()
    assert game.expire(1, now=T0 + 10**9, rng=random.Random(0)) == []


def test_expire_of_a_finished_game_does_nothing() -> None:
    game = pvp(best_of=1, round_seconds=30)
    play_round(game, "Rock", "Scissors")
    assert game.expire(1, now=T0 + 60_000, rng=random.Random(0)) == []


def test_a_seat_that_missed_the_deadline_loses_the_round_with_a_null_move() -> None:
    game = pvp(round_seconds=30)
    game.move("bob", "Paper", None, now=T0, rng=random.Random(0))
    effects = game.expire(1, now=T0 + 30_000, rng=random.Random(0))
    assert effects == [
        RoundPlayed(
            result=Round(round=1, moves={"ann": None, "bob": "Paper"}, winner="bob"),
            score={"ann": 0, "bob": 1},
        ),
        RoundOpened(round=2, deadline=T0 + 60_000, commitment=None),
    ]


def test_a_game_decided_by_a_round_lost_on_the_deadline_ends_with_timeout() -> None:
    game = pvp(best_of=1, round_seconds=30)
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    effects = game.expire(1, now=T0 + 30_000, rng=random.Random(0))
    assert effects[-1] == GameOver(winner="ann", reason=Reason.TIMEOUT, score={"ann": 1, "bob": 0})
    assert (game.reason, game.deadline) == (Reason.TIMEOUT, None)


def test_a_human_who_misses_the_deadline_against_the_computer_loses_the_round() -> None:
    game, _ = vs_computer(round_seconds=30)
    assert game.secret is not None
    computer_roll = game.secret.roll
    effects = game.expire(1, now=T0 + 30_000, rng=random.Random(0))
    played = effects[0]
    assert isinstance(played, RoundPlayed)
    assert played.result.moves == {"ann": None, COMPUTER: computer_roll}
    assert played.result.winner == COMPUTER


def test_both_seats_missing_the_deadline_abandon_the_game_with_both_moves_null() -> None:
    game = pvp(round_seconds=30)
    effects = game.expire(1, now=T0 + 30_000, rng=random.Random(0))
    assert effects == [
        RoundPlayed(
            result=Round(round=1, moves={"ann": None, "bob": None}, winner=None),
            score={"ann": 0, "bob": 0},
        ),
        GameOver(winner=None, reason=Reason.ABANDONED, score={"ann": 0, "bob": 0}),
    ]
    assert (game.status, game.reason, game.finished) == (
        Status.FINISHED,
        Reason.ABANDONED,
        T0 + 30_000,
    )


def test_a_deadline_that_passed_long_ago_fires_at_once() -> None:
    game = pvp(round_seconds=30)
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    effects = game.expire(1, now=T0 + 10**9, rng=random.Random(0))
    assert isinstance(effects[0], RoundPlayed)
    assert game.deadline == T0 + 10**9 + 30_000


# -- resigning -------------------------------------------------------------------------------


def test_resigning_ends_the_game_and_the_other_seat_wins() -> None:
    game = pvp()
    play_round(game, "Rock", "Scissors")
    effects = game.resign("ann", now=T0 + 7)
    assert effects == [GameOver(winner="bob", reason=Reason.RESIGNED, score={"ann": 1, "bob": 0})]
    assert (game.status, game.winner, game.finished, game.deadline) == (
        Status.FINISHED,
        "bob",
        T0 + 7,
        None,
    )


def test_resigning_against_the_computer_lets_the_computer_win() -> None:
    game, _ = vs_computer()
    effects = game.resign("ann", now=T0)
    assert effects == [
        GameOver(winner=COMPUTER, reason=Reason.RESIGNED, score={"ann": 0, COMPUTER: 0})
    ]
    assert game.commitment is None


def test_resigning_a_finished_game_is_an_illegal_move() -> None:
    game = pvp()
    game.resign("bob", now=T0)
    with pytest.raises(IllegalMove) as info:
        game.resign("ann", now=T0)
    assert info.value.code == "conflict"


def test_a_player_without_a_seat_is_forbidden_to_resign() -> None:
    with pytest.raises(Forbidden):
        pvp().resign("eve", now=T0)


# -- provable fairness -----------------------------------------------------------------------


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


# -- lifecycles ------------------------------------------------------------------------------


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
