"""The shapes of the JSON the terminal client reads (docs/protocol.md "Topics and events", "The game
object", REST), as ``TypedDict``s.

They name the keys, so mypy catches a misspelt one; they check no value. Every key is optional and
the views read each with ``.get`` and a default, because the hub may add fields and an older hub may
lack some (docs/bots.md: "Ignore events and fields you do not know").
"""

from __future__ import annotations

from typing import TypedDict, TypeVar, cast

__all__ = [
    "ChallengeData",
    "GameData",
    "GameEventData",
    "Leader",
    "LobbyEventData",
    "LobbyPlayer",
    "LobbySnapshot",
    "QueuePool",
    "Rating",
    "Record",
    "RoundData",
    "Summary",
    "as_shape",
]


class RoundData(TypedDict, total=False):
    """A resolved round: in a game's ``rounds``."""

    round: int
    moves: dict[str, str | None]
    winner: str | None
    commitment: str
    nonce: str


class Summary(TypedDict, total=False):
    """A game without its rounds: lobby events and snapshots."""

    id: str
    rules: str
    best_of: int
    players: list[str]
    status: str
    reason: str | None
    winner: str | None
    score: dict[str, int]
    round: int
    started: str | None
    finished: str | None
    level: str


class GameData(Summary, total=False):
    """The whole game: a ``game:`` snapshot, ``game_started`` on ``player:``, REST."""

    deadline: str | None
    commitment: str | None
    epoch: str
    rounds: list[RoundData]


class GameEventData(TypedDict, total=False):
    """The data of ``round_open``, ``moved``, ``round`` and ``game_over`` on a ``game:`` topic."""

    round: int
    deadline: str | None
    commitment: str
    player: str
    moves: dict[str, str | None]
    winner: str | None
    score: dict[str, int]
    nonce: str
    reason: str
    rating_change: dict[str, int]


# "from" is a keyword: the functional form spells it.
ChallengeData = TypedDict(
    "ChallengeData",
    {"id": str, "from": str, "by": str, "best_of": int, "rules": str, "rematch": str},
    total=False,
)
"""The data of ``challenge``, ``challenge_declined`` and ``challenge_withdrawn``."""


class LobbyPlayer(TypedDict, total=False):
    """An active player in the lobby."""

    name: str
    status: str


class QueuePool(TypedDict, total=False):
    """The players waiting in the queue for one ``rules`` and ``best_of``."""

    rules: str
    best_of: int
    waiting: int


class LobbyEventData(Summary, total=False):
    """The data of a ``lobby`` event: a player (joined, left, status), a game's summary, or a
    pool of the queue (``queue``: ``rules``, ``best_of``, ``waiting``)."""

    name: str
    waiting: int


class LobbySnapshot(TypedDict, total=False):
    """The ``lobby`` topic's snapshot."""

    players: list[LobbyPlayer]
    games: list[Summary]
    queue: list[QueuePool]


class Leader(TypedDict, total=False):
    """A row of ``GET /api/leaderboard``."""

    name: str
    wins: int
    games: int


class Rating(TypedDict, total=False):
    """A player's rating: its value, how unsure it is, and whether it is still provisional."""

    value: float
    deviation: float
    provisional: bool


class Record(TypedDict, total=False):
    """``GET /api/players/{name}``."""

    name: str
    games: int
    wins: int
    losses: int
    draws: int
    rounds_won: int
    rounds_lost: int
    rating: Rating


T = TypeVar("T")


def as_shape(shape: type[T], value: object) -> T:
    """``value`` taken as ``shape`` if it is a JSON object, else an empty one (values unchecked)."""
    del shape  # only names the type
    return cast(T, value if isinstance(value, dict) else {})
