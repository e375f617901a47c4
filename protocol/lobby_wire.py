"""The lobby and player events of the lobby's effects (docs/protocol.md, events).

``lobby_event`` is to ``protocol.lobby``'s effects what ``protocol.wire.effect_event`` is to the
game's: each effect becomes one event, named with the topic it goes to (``lobby``, or
``player:<name>`` with the registered spelling), so the edge publishes what the core returned
without knowing what each effect means.
"""

from __future__ import annotations

from typing import Any

from protocol.lobby import (
    ChallengeDeclined,
    ChallengeMade,
    ChallengeWithdrawn,
    LobbyEffect,
    PlayerJoined,
    PlayerLeft,
    QueueChanged,
    StatusChanged,
)

LOBBY = "lobby"  # the lobby's topic


def player_topic(name: str) -> str:
    """The private topic of a player (registered spelling)."""
    return f"player:{name}"


def lobby_event(effect: LobbyEffect) -> tuple[str, str, dict[str, Any]]:
    """The (topic, event name, data) that announces a lobby effect."""
    match effect:
        case PlayerJoined(name, status):
            return LOBBY, "player_joined", {"name": name, "status": status.value}
        case PlayerLeft(name):
            return LOBBY, "player_left", {"name": name}
        case StatusChanged(name, status):
            return LOBBY, "player_status", {"name": name, "status": status.value}
        case QueueChanged(pool):
            return LOBBY, "queue", pool.to_json()
        case ChallengeMade(challenge):
            return player_topic(challenge.challenged), "challenge", challenge.to_json()
        case ChallengeWithdrawn(id, to):
            return player_topic(to), "challenge_withdrawn", {"id": id}
        case ChallengeDeclined(id, by, to):
            return player_topic(to), "challenge_declined", {"id": id, "by": by}
    raise AssertionError(f"not a lobby effect: {effect!r}")
