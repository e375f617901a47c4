"""Topic names as the wire spells them (docs/protocol.md): ``lobby``, ``game:<id>``,
``player:<name>``."""

from __future__ import annotations

from attrs import frozen

from protocol.errors import BadMessage


@frozen
class Topic:
    """A parsed topic name: ``lobby``, ``game:<id>`` or ``player:<name>``."""

    kind: str
    key: str

    @property
    def name(self) -> str:
        """The wire spelling."""
        return self.kind if self.kind == "lobby" else f"{self.kind}:{self.key}"


def parse_topic(name: str) -> Topic:
    """Parse a topic name; ``BadMessage`` for an unknown form."""
    if name == "lobby":
        return Topic("lobby", "")
    kind, sep, key = name.partition(":")
    if sep and key and kind in ("game", "player"):
        return Topic(kind, key)
    raise BadMessage(f"unknown topic {name!r}; expected lobby, game:<id> or player:<name>")
