"""The writers' statements: a game still playing is saved by an UPDATE of the columns a move can
change only, so every other column must stay as it was created until the game ends; and the
values it sets (``sql.playing_row``) are the ones the whole row (``sql.game_row``) holds."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.game import COMPUTER, Game, Status
from protocol.rules import builtin_rules
from storage import sql
from storage.base import StoredEvent
from storage.sqlite_batch import PLAYING_FIELDS

RPS3 = builtin_rules()["rps3"]
T0 = 1_700_000_000_000
STEPS = st.lists(
    st.tuples(st.sampled_from(["a", "b", "expire", "resume"]), st.sampled_from(RPS3.rolls)),
    max_size=40,
)


def fixed(game: Game) -> dict[str, object]:
    """The ``games`` columns a save of a playing game does not set."""
    row = sql.game_row(game, [])
    return {k: v for k, v in row.items() if k not in (*PLAYING_FIELDS, "seq")}


@settings(max_examples=60, deadline=None)
@given(
    computer=st.booleans(),
    round_seconds=st.sampled_from([0.0, 10.0]),
    idle_seconds=st.sampled_from([0.0, 30.0]),
    steps=STEPS,
    seed=st.integers(0, 1000),
)
def test_a_playing_game_changes_no_column_but_those_its_update_sets(
    computer: bool,
    round_seconds: float,
    idle_seconds: float,
    steps: list[tuple[str, str]],
    seed: int,
) -> None:
    rng = random.Random(seed)
    players = ("ann", COMPUTER if computer else "bob")
    game, _ = Game.start(
        id="g1",
        rules=RPS3,
        best_of=5,
        players=players,
        now=T0,
        rng=rng,
        epoch="e1",
        round_seconds=round_seconds,
        idle_seconds=idle_seconds,
    )
    created = fixed(game)
    now = T0
    for step, roll in steps:
        now += 1000
        if step == "expire":
            due = game.due
            if due is None:
                continue
            now = max(now, due)
            game.expire(game.round, now=now, rng=rng)
        elif step == "resume":
            game.resume(now=now)
        else:
            seat = players[0] if step == "a" or computer else players[1]
            if game.pending.get(seat) is not None:
                continue
            game.move(seat, roll, None, now=now, rng=rng)
        if game.status is not Status.PLAYING:
            break
        assert fixed(game) == created
        assert_playing_row_is_the_whole_rows(game)


def assert_playing_row_is_the_whole_rows(game: Game) -> None:
    """What a save of the playing ``game`` sets is the whole row's values of those columns,
    with events (their last seq) and without (None: the stored seq is kept)."""
    events = [StoredEvent(7, T0, "round", {}, "{}"), StoredEvent(8, T0, "round_open", {}, "{}")]
    for evs, expected in ((events, 6), ([], None)):
        whole = {**sql.game_row(game, evs, keep_seq=True), "expected": expected}
        row = sql.save_row(game, evs, create=False, expected=expected)
        assert row == tuple(whole[c] for c in sql.PLAYING_ROW)
