"""Each lobby effect is one event: its topic, name and data, in the documented key order."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from protocol.lobby import (
    Challenge,
    ChallengeDeclined,
    ChallengeMade,
    ChallengeWithdrawn,
    LobbyEffect,
    PlayerJoined,
    PlayerLeft,
    PlayerStatus,
    QueueChanged,
    StatusChanged,
)
from protocol.lobby_wire import LOBBY, lobby_event, player_topic
from protocol.pairing import Pool

CASES: list[tuple[LobbyEffect, tuple[str, str, str]]] = [
    (
        PlayerJoined("Ann", PlayerStatus.PLAYING),
        ("lobby", "player_joined", '{"name": "Ann", "status": "playing"}'),
    ),
    (PlayerLeft("Ann"), ("lobby", "player_left", '{"name": "Ann"}')),
    (
        StatusChanged("Ann", PlayerStatus.QUEUED),
        ("lobby", "player_status", '{"name": "Ann", "status": "queued"}'),
    ),
    (
        QueueChanged(Pool("rps15", 5, 0)),
        ("lobby", "queue", '{"rules": "rps15", "best_of": 5, "waiting": 0}'),
    ),
    (
        ChallengeMade(Challenge("c1", "Ann", "Bob", 3, "rps3")),
        ("player:Bob", "challenge", '{"id": "c1", "from": "Ann", "best_of": 3, "rules": "rps3"}'),
    ),
    (
        ChallengeMade(Challenge("c2", "Ann", "Bob", 3, "rps3", rematch="g1")),
        (
            "player:Bob",
            "challenge",
            '{"id": "c2", "from": "Ann", "best_of": 3, "rules": "rps3", "rematch": "g1"}',
        ),
    ),
    (ChallengeWithdrawn("c1", "Bob"), ("player:Bob", "challenge_withdrawn", '{"id": "c1"}')),
    (
        ChallengeDeclined("c1", "Bob", "Ann"),
        ("player:Ann", "challenge_declined", '{"id": "c1", "by": "Bob"}'),
    ),
]


@pytest.mark.parametrize(("effect", "expected"), CASES, ids=lambda c: type(c).__name__)
def test_an_effect_is_announced_as_its_documented_event(
    effect: LobbyEffect, expected: tuple[str, str, str]
) -> None:
    topic, event, data = lobby_event(effect)
    assert (topic, event, json.dumps(data)) == expected


def test_every_kind_of_effect_has_a_case() -> None:
    kinds = {type(effect) for effect, _ in CASES}
    assert kinds == set(get_args(LobbyEffect))


def test_player_events_go_to_the_registered_spelling() -> None:
    assert (LOBBY, player_topic("aNN")) == ("lobby", "player:aNN")
