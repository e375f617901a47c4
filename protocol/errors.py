"""The core's exceptions; each carries the SPEC error code the edge answers with."""

from __future__ import annotations

from collections.abc import Sequence


class ProtocolError(Exception):
    """Base of every error the core raises; ``code`` is the SPEC error code."""

    code = "bad_request"

    @property
    def message(self) -> str:
        """The human-readable text of the error."""
        return str(self.args[0]) if self.args else self.code


class BadMessage(ProtocolError, ValueError):
    """A frame or body that cannot be read: bad JSON, unknown op, missing or ill-typed field."""


class UnknownRoll(ProtocolError, ValueError):
    """A roll that is not in the game's rule set."""


class InvalidRuleTable(ProtocolError, ValueError):
    """A rule table that is not a tournament; ``bad_pairs`` lists each pair as ``A vs B``."""

    def __init__(self, message: str, bad_pairs: Sequence[str]) -> None:
        super().__init__(message)
        self.bad_pairs = list(bad_pairs)


class Unauthorized(ProtocolError):
    """The action needs an authenticated player."""

    code = "unauthorized"


class Forbidden(ProtocolError):
    """The player is authenticated but may not do this."""

    code = "forbidden"


class NotFound(ProtocolError, LookupError):
    """A player, game, challenge or topic that does not exist."""

    code = "not_found"


class Conflict(ProtocolError):
    """The action contradicts the current state (a live game, a taken name, a finished game)."""

    code = "conflict"


class IllegalMove(Conflict):
    """A move the game cannot take: another roll for a moved round, a round not open, game over."""
