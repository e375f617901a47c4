"""The storage interface the hub needs and its record types (``storage.open`` opens one).

Every method is one unit of work that commits before it returns.  A game is saved together with
the game-topic events its change produced, in one transaction, so a round is durable before anyone
is told of it and the game topic's history can be replayed from storage after a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from attrs import Factory, define, field, frozen

from protocol.errors import ErrorCode, ProtocolError
from protocol.game import Game
from protocol.messages import encode_data
from protocol.ratings import NEW, Rating
from protocol.reader import HISTORY_LIMIT, Seen


class StorageError(ProtocolError):
    """Storage could not do what was asked (the database is unavailable or refused)."""

    code = ErrorCode.UNAVAILABLE


class NameTaken(StorageError):
    """A player name that is already registered (case-insensitively), ``computer`` included."""

    code = ErrorCode.CONFLICT


class StaleGame(StorageError):
    """A save of a game that another save changed since it was read: its stored ``seq`` is not
    the one the save follows.  Nothing of the save is stored; load the game again and retry."""

    def __init__(self, game_id: str, expected: int, stored: int) -> None:
        super().__init__(
            f"game {game_id} changed since it was read: it is at seq {stored}, not {expected};"
            " load it again and retry"
        )
        self.game_id = game_id
        self.expected = expected  # the seq the save followed
        self.stored = stored  # the seq the stored game had instead


class SeatTaken(StorageError):
    """A new live game for a player who already holds a seat in another live game (on any node
    sharing the database); nothing of the new game is stored."""

    code = ErrorCode.CONFLICT

    def __init__(self, player: str, game_id: str) -> None:
        super().__init__(f"{player} is already playing game {game_id}; finish or resign it first")
        self.player = player  # as the new game spells the seat
        self.game_id = game_id  # the live game that holds the seat


@frozen
class PlayerRecord:
    """A registered player (``computer`` is one too, with no token)."""

    id: int
    name: str
    created: int  # unix ms
    # False for players the legacy API made (and the computer): nothing can act for them by token.
    has_token: bool
    rating: Rating = NEW  # Glicko-2 (protocol/ratings.py)
    rated: int = 0  # rated games that made ``rating``


@frozen
class PlayerStats:
    """A player's record over finished games."""

    games: int
    wins: int
    losses: int
    draws: int  # drawn and abandoned
    rounds_won: int
    rounds_lost: int


@frozen
class Leader:
    """A leaderboard row, with the player's id and registration time (the legacy API shows them)."""

    name: str
    wins: int
    games: int
    id: int
    created: int  # unix ms


@frozen
class RatingUpdate:
    """A player's rating after a rated game, saved with the game (``save_game``'s ``ratings``).

    ``rated`` is the player's count of rated games that the rating before was read at; the save
    fails with ``StaleRating`` when another rated game of theirs was stored meanwhile.
    """

    player: str
    rating: Rating
    rated: int


class StaleRating(StorageError):
    """A rated game's save read a rating that another rated game has changed since."""


@frozen
class RatingPoint:
    """A player's rating after one rated game (``rating_history``)."""

    game_id: str
    ts: int  # unix ms: when the game finished
    rating: Rating


@frozen
class RatedLeader:
    """A row of the leaderboard by rating."""

    name: str
    wins: int
    games: int
    rating: Rating


@define
class StoredEvent:
    """One event of a game's topic, as stored: never changed once made (as if frozen).

    Not an attrs ``frozen`` class: its ``__init__`` sets each field through
    ``object.__setattr__`` (0.44 us a record against 0.15), and every move makes three."""

    seq: int
    ts: int  # unix ms
    event: str
    data: dict[str, Any]
    # ``data`` as JSON text, encoded once for the stored row and the frame (``encode_data``).
    text: str = field(
        eq=False, repr=False, default=Factory(lambda e: encode_data(e.data), takes_self=True)
    )


@frozen
class GamePage:
    """A page of games, newest first, with the cursor of the next page."""

    games: list[Game]
    next: str | None


class Storage(Protocol):
    """What the hub needs from a database.

    A lookup by a key that no row can hold (text PostgreSQL cannot store, such as a NUL byte or a
    lone surrogate) finds nothing, on every backend alike, instead of failing.
    """

    async def close(self) -> None:
        """Close every connection; pending work is committed first."""

    # -- the writer's counters (group commit) ----------------------------------------------

    @property
    def batches(self) -> int:
        """Transactions the writer has run for batches of saves."""

    @property
    def saves(self) -> int:
        """Saves (``create_game``, ``save_game``) stored or failed in those batches."""

    @property
    def largest_batch(self) -> int:
        """The most saves one batch has held."""

    @property
    def retried(self) -> int:
        """Saves stored again, each alone, because their batch failed."""

    # -- players ---------------------------------------------------------------------------

    async def create_player(self, name: str, token_hash: str | None, created: int) -> PlayerRecord:
        """Register a player (without a token when ``token_hash`` is None); ``NameTaken`` when
        the name is taken ignoring case."""

    async def player(self, name: str) -> PlayerRecord | None:
        """The player with this name ignoring case (``computer`` included), or None."""

    async def player_by_token(self, token_hash: str) -> PlayerRecord | None:
        """The player one of whose tokens hashes to ``token_hash``, or None."""

    async def players_by_tokens(self, hashes: Sequence[str]) -> dict[str, PlayerRecord]:
        """``player_by_token`` of many hashes in one read: each hash that finds a player, with
        that player (unknown hashes are left out)."""

    async def add_token(self, player: PlayerRecord, token_hash: str, created: int) -> None:
        """Give a player with tokens another one (another device)."""

    async def revoke_token(self, token_hash: str) -> bool:
        """Forget one token (the player's others keep working); False when it was not known."""

    async def players(self, limit: int, after: str | None) -> list[PlayerRecord]:
        """Registered players (not ``computer``) ordered by name ignoring case, after ``after``."""

    async def player_stats(self, name: str) -> PlayerStats:
        """The player's record: games over finished games, rounds over all their games."""

    async def leaderboard(self, limit: int, *, include_computer: bool = False) -> list[Leader]:
        """Players with a finished game, most wins first, then name ignoring case."""

    # -- games -----------------------------------------------------------------------------

    async def create_game(self, game: Game, events: list[StoredEvent]) -> None:
        """Store a new game with its first events; a live one seats its human players (see
        ``live_game_of``) in the same transaction, or ``SeatTaken`` and nothing when one of
        them already holds a seat."""

    async def save_game(
        self,
        game: Game,
        events: list[StoredEvent],
        ratings: Sequence[RatingUpdate] = (),
        *,
        expected_seq: int | None = None,
    ) -> None:
        """Store the game's new state, its rounds and the events the change produced, only if
        the stored game is still at the seq just before ``events[0].seq`` (compare-and-set:
        ``StaleGame`` and nothing otherwise); with ``ratings`` (a rated game's end) the players'
        new ratings in the same transaction, or ``StaleRating`` and nothing when one of them
        changed since it was read.  A change that ends the game frees its seats.

        A save without events (a new deadline after a restart) keeps the stored seq and is
        stored whatever that seq is, unless ``expected_seq`` names the seq it must still be.
        With events, ``expected_seq`` must be None or the seq before them."""

    async def rating_history(self, name: str, limit: int) -> list[RatingPoint]:
        """The player's rating after each of their latest ``limit`` rated games, oldest first."""

    async def computer_rounds(
        self, player: str, rules: str, *, before: str | None = None, limit: int = HISTORY_LIMIT
    ) -> list[Seen]:
        """The player's latest ``limit`` rounds against the computer under ``rules`` (in games
        other than ``before``), oldest first, as ``protocol.reader`` reads them."""

    async def rating_leaders(self, limit: int) -> list[RatedLeader]:
        """Players whose rating is not provisional, highest shown rating first, then name
        ignoring case."""

    async def game(self, game_id: str) -> Game | None:
        """The game with this id, or None."""

    async def live_games(self) -> list[Game]:
        """Every game still ``playing``, oldest first (to resume after a restart)."""

    async def games(
        self, *, player: str | None, status: str | None, limit: int, before: str | None
    ) -> GamePage:
        """Games newest first, filtered by player and status; ``before`` is an opaque cursor."""

    async def events(self, game_id: str, after: int) -> list[StoredEvent]:
        """The game topic's events with ``seq > after``, in order."""

    async def last_seq(self, game_id: str) -> int:
        """The game topic's latest ``seq`` (0 when it has none)."""

    # -- several nodes on one database (SPEC section 6) ---------------------------------------

    async def heads(self, game_ids: Sequence[str]) -> dict[str, int]:
        """Each known game's latest ``seq`` (0 when it has no events), read in one query;
        unknown ids are left out."""

    async def overdue(self, now_ms: int, limit: int = 100) -> list[str]:
        """The ids of up to ``limit`` live games whose round deadline or idle limit is at or
        before ``now_ms``, the longest overdue first (what every node's sweep fires)."""

    async def live_game_ids(self) -> set[str]:
        """The ids of every live game, in one cheap read (what a cluster node checks its lobby's
        seats against)."""

    async def live_game_of(self, player: str) -> str | None:
        """The id of the live game in which ``player`` (ignoring case) holds a seat, or None;
        the computer holds none."""


class BadCursor(StorageError, ValueError):
    """A pagination cursor that this storage did not make."""

    code = ErrorCode.BAD_REQUEST
