"""Topic names, and the bytes of a stored game-topic event (the same live and on replay)."""

from __future__ import annotations

from protocol.messages import encode_event_text
from storage.base import StoredEvent


def game_topic(game_id: str) -> str:
    """The topic of a game."""
    return f"game:{game_id}"


def player_topic(name: str) -> str:
    """The private topic of a player (registered spelling)."""
    return f"player:{name}"


def event_payload(topic: str, event: StoredEvent) -> bytes:
    """The payload of a stored game-topic event (the same bytes live and on replay)."""
    return encode_event_text(topic, event.seq, event.ts, event.event, event.text)
