"""JSON forms of games, summaries and game events."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from protocol.game import COMPUTER, Game, GameOver, Moved, Reason, Round, RoundOpened, RoundPlayed
from protocol.rules import builtin_rules
from protocol.wire import (
    effect_event,
    effect_event_text,
    game_json,
    iso,
    round_json,
    summary_json,
)

RPS3 = builtin_rules()["rps3"]
T0 = 1_700_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

GAME_KEYS = {
    "id",
    "rules",
    "best_of",
    "players",
    "status",
    "reason",
    "winner",
    "score",
    "round",
    "deadline",
    "commitment",
    "epoch",
    "rounds",
    "started",
    "finished",
}


def start(opponent: str = COMPUTER, round_seconds: float = 30) -> tuple[Game, RoundOpened]:
    game, effects = Game.start(
        id="g1",
        rules=RPS3,
        best_of=3,
        players=("ann", opponent),
        now=T0,
        rng=random.Random(4),
        epoch="ep",
        round_seconds=round_seconds,
    )
    opened = effects[0]
    assert isinstance(opened, RoundOpened)
    return game, opened


# -- times -----------------------------------------------------------------------------------


def test_iso_of_zero_is_the_unix_epoch_with_milliseconds_and_z() -> None:
    assert iso(0) == "1970-01-01T00:00:00.000Z"


def test_iso_keeps_the_milliseconds() -> None:
    assert iso(T0 + 123) == "2023-11-14T22:13:20.123Z"


def test_iso_of_none_is_none() -> None:
    assert iso(None) is None


@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_iso_names_exactly_the_millisecond_it_was_given(ms: int) -> None:
    text = iso(ms)
    assert text is not None and text.endswith("Z") and len(text) == 24
    delta = datetime.fromisoformat(text) - EPOCH
    assert delta // timedelta(milliseconds=1) == ms


# -- games and summaries ---------------------------------------------------------------------


def test_game_json_has_exactly_the_spec_keys() -> None:
    game, _ = start()
    assert set(game_json(game)) == GAME_KEYS | {"level"}  # against the computer


def test_summary_json_is_the_game_without_rounds_deadline_commitment_and_epoch() -> None:
    game, _ = start()
    assert set(summary_json(game)) == GAME_KEYS - {"rounds", "deadline", "commitment", "epoch"} | {
        "level"
    }


def test_a_fresh_game_shows_round_one_open_with_deadline_and_commitment() -> None:
    game, opened = start()
    assert game_json(game) == {
        "id": "g1",
        "rules": "rps3",
        "best_of": 3,
        "players": ["ann", COMPUTER],
        "status": "playing",
        "reason": None,
        "winner": None,
        "score": {"ann": 0, COMPUTER: 0},
        "round": 1,
        "deadline": "2023-11-14T22:13:50.000Z",
        "commitment": opened.commitment,
        "epoch": "ep",
        "rounds": [],
        "started": "2023-11-14T22:13:20.000Z",
        "finished": None,
        "level": "random",
    }


def test_a_finished_game_shows_no_deadline_and_no_commitment() -> None:
    game, _ = start()
    game.resign("ann", now=T0 + 1)
    shown = game_json(game)
    assert (shown["status"], shown["reason"], shown["winner"]) == ("finished", "resigned", COMPUTER)
    assert (shown["deadline"], shown["commitment"]) == (None, None)
    assert shown["finished"] == "2023-11-14T22:13:20.001Z"


def test_rounds_against_the_computer_carry_commitment_and_nonce() -> None:
    game, opened = start()
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    (played,) = game_json(game)["rounds"]
    assert set(played) == {"round", "moves", "winner", "commitment", "nonce"}
    assert played["commitment"] == opened.commitment
    assert played["moves"]["ann"] == "Rock"


def test_pvp_rounds_carry_no_commitment_or_nonce() -> None:
    game, _ = start("bob")
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    game.move("bob", "Rock", None, now=T0, rng=random.Random(0))
    assert game_json(game)["rounds"] == [
        {"round": 1, "moves": {"ann": "Rock", "bob": "Rock"}, "winner": None}
    ]


def test_a_missed_move_shows_as_null() -> None:
    game, _ = start("bob")
    game.move("bob", "Rock", None, now=T0, rng=random.Random(0))
    game.expire(1, now=T0 + 30_000, rng=random.Random(0))
    assert round_json(game.rounds[0])["moves"] == {"ann": None, "bob": "Rock"}


def test_game_json_is_serializable_json() -> None:
    game, _ = start()
    game.move("ann", "Paper", None, now=T0, rng=random.Random(0))
    shown = game_json(game)
    assert json.loads(json.dumps(shown)) == shown


def test_the_summary_agrees_with_the_game() -> None:
    game, _ = start()
    shown = game_json(game)
    assert summary_json(game) == {k: v for k, v in shown.items() if k in summary_json(game)}


# -- events ----------------------------------------------------------------------------------


def test_round_open_against_the_computer_carries_the_commitment() -> None:
    _, opened = start()
    assert effect_event(opened) == (
        "round_open",
        {"round": 1, "deadline": "2023-11-14T22:13:50.000Z", "commitment": opened.commitment},
    )


def test_round_open_in_pvp_has_no_commitment_key() -> None:
    _, opened = start("bob", round_seconds=0)
    assert effect_event(opened) == ("round_open", {"round": 1, "deadline": None})


def test_moved_names_the_round_and_player_and_never_the_roll() -> None:
    assert effect_event(Moved(round=2, player="ann")) == ("moved", {"round": 2, "player": "ann"})


def test_round_against_the_computer_reveals_the_nonce() -> None:
    game, _ = start()
    _, effects = game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    played = effects[1]
    assert isinstance(played, RoundPlayed)
    name, data = effect_event(played)
    assert name == "round"
    assert set(data) == {"round", "moves", "winner", "score", "nonce"}
    assert data["nonce"] == played.result.nonce
    assert data["moves"] == played.result.moves
    assert data["score"] == game.score


def test_round_in_pvp_has_no_nonce_key() -> None:
    game, _ = start("bob")
    game.move("ann", "Rock", None, now=T0, rng=random.Random(0))
    _, effects = game.move("bob", "Scissors", None, now=T0, rng=random.Random(0))
    played = effects[1]
    assert isinstance(played, RoundPlayed)
    assert effect_event(played) == (
        "round",
        {
            "round": 1,
            "moves": {"ann": "Rock", "bob": "Scissors"},
            "winner": "ann",
            "score": {"ann": 1, "bob": 0},
        },
    )


def test_game_over_carries_winner_reason_and_score() -> None:
    over = GameOver(winner=None, reason=Reason.ABANDONED, score={"ann": 0, "bob": 0})
    assert effect_event(over) == (
        "game_over",
        {"winner": None, "reason": "abandoned", "score": {"ann": 0, "bob": 0}},
    )


@given(
    st.integers(min_value=1, max_value=10**6),
    st.text(min_size=1),
    st.none() | st.integers(min_value=0, max_value=253_402_300_799_999),
    st.none() | st.text(),
)
def test_an_events_text_is_its_data_as_the_json_encoder_writes_it(
    round: int, player: str, deadline: int | None, commitment: str | None
) -> None:
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    for effect in (Moved(round, player), RoundOpened(round, deadline, commitment)):
        name, data, text = effect_event_text(effect)
        assert (name, data) == effect_event(effect)
        assert text == encode(data)


SEATS = st.text(min_size=1, max_size=4)
ROLLS = st.none() | st.text(max_size=4)


@given(
    st.integers(min_value=1, max_value=50),
    st.dictionaries(SEATS, ROLLS, min_size=1, max_size=3),
    st.none() | SEATS,
    st.dictionaries(SEATS, st.integers(0, 8) | st.booleans(), min_size=1, max_size=3),
    st.none() | st.text(max_size=40),
)
def test_a_rounds_text_is_its_data_as_the_json_encoder_writes_it(
    round: int,
    moves: dict[str, str | None],
    winner: str | None,
    score: dict[str, int],
    nonce: str | None,
) -> None:
    # Written directly for two seats (one or three, or a bool in the score: by the encoder).
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    effect = RoundPlayed(Round(round, moves, winner, None if nonce is None else "c", nonce), score)
    name, data, text = effect_event_text(effect)
    assert (name, data) == effect_event(effect)
    assert text == encode(data)
