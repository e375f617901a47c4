"""Topic names, and the bytes of a stored game-topic event (the same live and on replay).

A player's topic is named by the lobby's core (``protocol.lobby_wire.player_topic``), whose
events go there; it is here too for the edge.
"""

from __future__ import annotations

from protocol.lobby_wire import player_topic
from protocol.messages import encode_event_text
from storage.base import StoredEvent

__all__ = ["event_payload", "game_topic", "player_topic"]


def game_topic(game_id: str) -> str:
    """The topic of a game."""
    return f"game:{game_id}"


def event_payload(topic: str, event: StoredEvent) -> bytes:
    """The payload of a stored game-topic event (the same bytes live and on replay)."""
    return encode_event_text(topic, event.seq, event.ts, event.event, event.text)
