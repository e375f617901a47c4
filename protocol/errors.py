"""The error vocabulary, written once, and the core's exceptions that name their code from it.

``ErrorCode`` is every code; ``HTTP_ERRORS`` is the table of every HTTP error status with the code
its body carries and what it means (a code's own status is its first row; 405 and 415 answer
``bad_request`` too).  REST, the WebSocket and the OpenAPI document all read them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from attrs import frozen


class ErrorCode(enum.StrEnum):
    """An error code (docs/protocol.md); ``status`` its HTTP status, ``meaning`` what it says."""

    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"

    @property
    def status(self) -> int:
        """The HTTP status REST answers this code with."""
        return _OWN[self].status

    @property
    def meaning(self) -> str:
        """What the code says, as the OpenAPI document describes its status."""
        return _OWN[self].meaning


@frozen
class HttpError:
    """One HTTP error status: the code its body carries and what the status means."""

    status: int
    code: ErrorCode
    meaning: str


HTTP_ERRORS: tuple[HttpError, ...] = (
    HttpError(
        400,
        ErrorCode.BAD_REQUEST,
        "A malformed body, parameter or roll (405 answers with this code too)",
    ),
    HttpError(401, ErrorCode.UNAUTHORIZED, "No valid `Authorization: Bearer <token>`"),
    HttpError(
        403, ErrorCode.FORBIDDEN, "Not your seat, or a Host this loopback hub does not serve"
    ),
    HttpError(404, ErrorCode.NOT_FOUND, "No such player, game or route"),
    HttpError(405, ErrorCode.BAD_REQUEST, "The route does not take this method"),
    HttpError(409, ErrorCode.CONFLICT, "Contradicts the current state"),
    HttpError(413, ErrorCode.TOO_LARGE, "The body is over 64 KiB"),
    HttpError(415, ErrorCode.BAD_REQUEST, "The body is not `Content-Type: application/json`"),
    HttpError(
        429,
        ErrorCode.RATE_LIMITED,
        "Too many requests from this address; `Retry-After` says when to retry",
    ),
    HttpError(500, ErrorCode.INTERNAL, "An unexpected failure"),
    HttpError(503, ErrorCode.UNAVAILABLE, "Shutting down, or the database is unavailable"),
)
"""Every HTTP error status the hub answers with, the code its body carries and its meaning."""

# A code's own status is the first row that carries it; later rows (405, 415) are statuses the
# web layer answers on its own, before any handler, with a code that already has its status.
_OWN: Mapping[ErrorCode, HttpError] = MappingProxyType(
    {row.code: row for row in reversed(HTTP_ERRORS)}
)

_BY_STATUS: Mapping[int, ErrorCode] = MappingProxyType({r.status: r.code for r in HTTP_ERRORS})


def code_for_status(status: int) -> ErrorCode:
    """The code an HTTP error status answers with; other 5xx are internal, other 4xx bad_request."""
    known = _BY_STATUS.get(status)
    if known is not None:
        return known
    return ErrorCode.INTERNAL if status >= 500 else ErrorCode.BAD_REQUEST


class ProtocolError(Exception):
    """Base of every error the core raises; ``code`` is its protocol error code.

    A subclass names its code as an ``ErrorCode`` (a plain string is read as one), so a code
    outside the vocabulary fails when the class is defined, not when it is first raised.
    """

    # Typed ``str`` so subclasses may still name a code as a plain string; it is read as an
    # ``ErrorCode`` when the class is defined.
    code: str = ErrorCode.BAD_REQUEST

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = ErrorCode(cls.code)

    @property
    def message(self) -> str:
        """The human-readable text of the error."""
        return str(self.args[0]) if self.args else str(self.code)


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

    code = ErrorCode.UNAUTHORIZED


class Forbidden(ProtocolError):
    """The player is authenticated but may not do this."""

    code = ErrorCode.FORBIDDEN


class NotFound(ProtocolError, LookupError):
    """A player, game, challenge or topic that does not exist."""

    code = ErrorCode.NOT_FOUND


class Conflict(ProtocolError):
    """The action contradicts the current state (a live game, a taken name, a finished game)."""

    code = ErrorCode.CONFLICT


class IllegalMove(Conflict):
    """A move the game cannot take: another roll for a moved round, a round not open, game over."""
