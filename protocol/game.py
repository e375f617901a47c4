"""The game state machine.

Theory of operation
-------------------
A game has two seats (``players[0]`` is the challenger, the first queued, or the human against the
computer) and moves through rounds.  Exactly one round is *open* while the game is ``playing``.
Moves are simultaneous and secret: a seat's roll waits in ``pending`` until both seats have moved,
then the round is resolved into a ``Round``, the score is updated and either the game ends or the
next round opens.  Against the computer, its roll is drawn when the round opens (at ``level``,
from ``history`` and this game's rounds: ``protocol.reader``) and only its commitment
``sha256("<roll>:<nonce>")`` is published; the resolved round reveals roll and nonce.

Two clocks can end a round.  A round's *deadline* (``round_seconds`` after it opens) makes a seat
that has not moved lose the round.  A game's *idle limit* (``idle_seconds`` after the latest round
opened or move was taken; legacy games, which have no deadline, use it) ends the game
``abandoned`` with its open round unplayed.  ``due`` is the earlier of the two: when the edge
calls ``expire``.  ``resume`` restarts both from now after a restart, so time the hub was down
never counts against a seat; the round, its commitment and its pending moves stay.

Every transition is a method that returns a list of effects (``RoundOpened``, ``Moved``,
``RoundPlayed``, ``GameOver``) for the edge to store and broadcast, in order.  A transition either
succeeds completely or raises before touching the state.  Time (unix milliseconds) and randomness
(a ``random.Random``; ``secrets.SystemRandom()`` in production) come in as arguments.

Transitions:

=========  ==========================  ===================================================
status     input                       result
=========  ==========================  ===================================================
playing    move (first seat)           ``Moved`` (humans only)
playing    move (second seat)          ``Moved``, ``RoundPlayed``, then ``RoundOpened``
                                       or ``GameOver``
playing    expire (deadline passed)    missing seats lose: ``RoundPlayed`` + as above;
                                       both missing: ``RoundPlayed`` + ``GameOver(abandoned)``
playing    expire (idle limit passed)  ``GameOver(abandoned)``, the open round unplayed
playing    resume                      nothing (fresh deadline and idle limit from now)
playing    resign                      ``GameOver(resigned)``
finished   move with a moved round     nothing (the original answer again)
finished   anything else               ``IllegalMove``
=========  ==========================  ===================================================
"""

from __future__ import annotations

import enum
import hashlib
import random
from typing import TypeAlias

from attrs import define, field, frozen

from protocol.errors import BadMessage, Forbidden, IllegalMove
from protocol.reader import DEFAULT_LEVEL, Seen, computer_roll, seen_in
from protocol.rules import RuleSet

COMPUTER = "computer"
MAX_ROUNDS = 50
MAX_BEST_OF = 15


class Status(enum.Enum):
    """Where a game is in its life."""

    PLAYING = "playing"  # a round is open and moves are taken
    FINISHED = "finished"  # over for good; ``reason`` says why


class Reason(enum.Enum):
    """Why a finished game ended."""

    WON = "won"  # a seat reached the winning number of rounds
    DRAWN = "drawn"  # round 50 passed with no winner
    RESIGNED = "resigned"  # a seat gave up; the other wins
    TIMEOUT = "timeout"  # decided by a round lost on the deadline
    ABANDONED = "abandoned"  # neither seat moved before a deadline, or the game was left idle


def commitment_of(roll: str, nonce: str) -> str:
    """The published commitment to a computer roll: ``sha256("<roll>:<nonce>")`` in hex."""
    return hashlib.sha256(f"{roll}:{nonce}".encode()).hexdigest()


def check_best_of(value: object) -> int:
    """Validate ``best_of``: an odd JSON integer 1..15."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadMessage("field 'best_of' must be an odd integer from 1 to 15")
    if not 1 <= value <= MAX_BEST_OF or value % 2 == 0:
        raise BadMessage(f"field 'best_of' must be an odd integer from 1 to 15, not {value}")
    return value


@frozen
class Secret:
    """The computer's hidden roll for the open round, and the ``commitment`` published for it."""

    roll: str
    nonce: str
    commitment: str = field(init=False, eq=False, repr=False)  # hashed once: a round shows it twice

    @commitment.default
    def _commit(self) -> str:
        return commitment_of(self.roll, self.nonce)


@frozen
class Round:
    """A resolved round; a move is ``None`` when the seat missed the deadline."""

    round: int
    moves: dict[str, str | None]
    winner: str | None
    commitment: str | None = None
    nonce: str | None = None


@frozen
class RoundOpened:
    """Effect: a round is open for moves."""

    round: int
    deadline: int | None
    commitment: str | None


@frozen
class Moved:
    """Effect: a human seat has moved in the open round (the roll stays secret)."""

    round: int
    player: str


@frozen
class RoundPlayed:
    """Effect: a round was resolved."""

    result: Round
    score: dict[str, int]


@frozen
class GameOver:
    """Effect: the game ended."""

    winner: str | None
    reason: Reason
    score: dict[str, int]


Effect: TypeAlias = RoundOpened | Moved | RoundPlayed | GameOver


@define
class Game:
    """One game between two seats; see the module docstring for its transitions."""

    id: str
    rules: RuleSet
    best_of: int
    players: tuple[str, str]
    started: int
    epoch: str
    round_seconds: float = 0.0
    idle_seconds: float = 0.0  # 0: no idle limit
    status: Status = Status.PLAYING
    reason: Reason | None = None
    winner: str | None = None
    score: dict[str, int] = field(factory=dict)
    round: int = 0
    deadline: int | None = None
    secret: Secret | None = None
    pending: dict[str, str] = field(factory=dict)
    rounds: list[Round] = field(factory=list)
    finished: int | None = None
    idle_until: int | None = None  # unix ms; the game ends abandoned if nobody moves by then
    rating_change: dict[str, int] | None = None  # set by the edge when it rates the game
    level: str = DEFAULT_LEVEL  # the computer's (protocol.reader); "random" between humans
    history: list[Seen] = field(factory=list, eq=False, repr=False)  # rounds before, for reader

    @classmethod
    def start(
        cls,
        *,
        id: str,
        rules: RuleSet,
        best_of: int,
        players: tuple[str, str],
        now: int,
        rng: random.Random,
        epoch: str,
        round_seconds: float = 0.0,
        idle_seconds: float = 0.0,
        level: str = DEFAULT_LEVEL,
        history: list[Seen] | None = None,
    ) -> tuple[Game, list[Effect]]:
        """Create a game with round 1 open; returns the game and its first ``RoundOpened``."""
        check_best_of(best_of)
        a, b = players
        if a.casefold() == b.casefold():
            raise BadMessage("a game needs two different players")
        if a == COMPUTER:
            raise BadMessage("the computer takes the second seat")
        game = cls(
            id=id,
            rules=rules,
            best_of=best_of,
            players=players,
            started=now,
            epoch=epoch,
            round_seconds=round_seconds,
            idle_seconds=idle_seconds,
            score={a: 0, b: 0},
            level=level,
            history=history or [],
        )
        return game, [game._open_round(now, rng)]

    # -- derived facts ---------------------------------------------------------------------

    @property
    def against_computer(self) -> bool:
        """True when the second seat is the computer."""
        return self.players[1] == COMPUTER

    @property
    def humans(self) -> tuple[str, ...]:
        """The seats held by players (not the computer, which only ever takes the second)."""
        return self.players[:1] if self.players[1] == COMPUTER else self.players

    @property
    def wins_needed(self) -> int:
        """Round wins that take the game."""
        return (self.best_of + 1) // 2

    @property
    def commitment(self) -> str | None:
        """The computer's commitment for the open round, if any."""
        return self.secret.commitment if self.secret and self.status is Status.PLAYING else None

    @property
    def due(self) -> int | None:
        """When ``expire`` next has something to do: the deadline or the idle limit, if earlier."""
        d, i = self.deadline, self.idle_until  # no list: asked after every move
        return i if d is None or (i is not None and i < d) else d

    @property
    def is_over(self) -> bool:
        """True once the game has finished."""
        return self.status is Status.FINISHED

    def seat(self, player: str) -> str:
        """The seat name matching ``player`` ignoring case; ``Forbidden`` when not seated."""
        humans = self.humans
        if player in humans:  # spelled as seated (two seats never differ only by case)
            return player
        key = player.casefold()
        for p in humans:
            if p.casefold() == key:
                return p
        raise Forbidden(f"{player} has no seat in game {self.id}")

    def opponent(self, player: str) -> str:
        """The other seat."""
        a, b = self.players
        return b if player == a else a

    # -- transitions -----------------------------------------------------------------------

    def move(
        self, player: str, roll: str, round: int | None, *, now: int, rng: random.Random
    ) -> tuple[int, list[Effect]]:
        """Take ``player``'s roll; returns the round it counts for and the effects."""
        seat = self.seat(player)
        canonical = self.rules.canonical(roll)
        if round is not None and (isinstance(round, bool) or not isinstance(round, int)):
            raise BadMessage("field 'round' must be an integer")
        if round is not None and round < 1:
            raise BadMessage(f"field 'round' must be 1 or more, not {round}")
        target = self.round if round is None else round
        over = self.status is Status.FINISHED  # ``is_over``, read once: this runs every move
        if round is None and over:
            raise IllegalMove(f"game {self.id} is over; send 'round' to repeat a move")
        if target < self.round or (target == self.round and over):
            return target, self._repeat(seat, canonical, target)
        if target > self.round:
            raise IllegalMove(f"round {target} is not open; the open round is {self.round}")
        if seat in self.pending:
            if self.pending[seat] == canonical:
                return target, []
            raise IllegalMove(f"you already moved in round {target}")
        self.pending[seat] = canonical
        self._touch(now)
        effects: list[Effect] = [Moved(target, seat)]
        if len(self.pending) == len(self.humans):  # it holds human seats only
            effects += self._resolve(timed_out=False, now=now, rng=rng)
        return target, effects

    def expire(self, round: int, *, now: int, rng: random.Random) -> list[Effect]:
        """Fire what is due in ``round`` (the deadline first, else the idle limit); nothing
        happens when the round is stale or nothing is due yet."""
        if self.is_over or round != self.round:
            return []
        if self.deadline is not None and now >= self.deadline:
            return self._resolve(timed_out=True, now=now, rng=rng)
        if self.idle_until is not None and now >= self.idle_until:
            return [self._finish(Reason.ABANDONED, None, now)]
        return []

    def resume(self, *, now: int) -> None:
        """Restart the open round's deadline and the idle limit from ``now`` (after a restart:
        time the hub was down never counts); the round, its commitment and moves stay."""
        if self.is_over:
            return
        if self.deadline is not None:
            self.deadline = now + int(self.round_seconds * 1000)
        self._touch(now)

    def resign(self, player: str, *, now: int) -> list[Effect]:
        """``player`` gives up; the other seat wins."""
        seat = self.seat(player)
        if self.is_over:
            raise IllegalMove(f"game {self.id} is already over")
        return [self._finish(Reason.RESIGNED, self.opponent(seat), now)]

    # -- internals -------------------------------------------------------------------------

    def _repeat(self, seat: str, roll: str, target: int) -> list[Effect]:
        played = self.rounds[target - 1] if target <= len(self.rounds) else None
        if played is None or played.moves.get(seat) != roll:
            raise IllegalMove(f"round {target} is closed and you did not play {roll} in it")
        return []

    def _touch(self, now: int) -> None:
        """Someone acted (or the game resumed): the idle limit counts from ``now``."""
        if self.idle_seconds > 0:
            self.idle_until = now + int(self.idle_seconds * 1000)

    def _open_round(self, now: int, rng: random.Random) -> RoundOpened:
        self.round += 1
        self.pending = {}
        self.deadline = now + int(self.round_seconds * 1000) if self.round_seconds > 0 else None
        self._touch(now)
        secret = None
        if self.players[1] == COMPUTER:  # ``against_computer`` (and ``commitment`` below)
            nonce = f"{rng.getrandbits(128):032x}"
            seen = self.history  # the random level reads nothing: no work per round for it
            if self.level != "random":
                seen = [*seen, *seen_in(self.rounds, self.players[0])]
            secret = Secret(computer_roll(self.level, self.rules, seen, rng), nonce)
        self.secret = secret
        return RoundOpened(self.round, self.deadline, None if secret is None else secret.commitment)

    def _resolve(self, *, timed_out: bool, now: int, rng: random.Random) -> list[Effect]:
        a, b = self.players
        moves: dict[str, str | None] = {a: self.pending.get(a), b: self.pending.get(b)}
        secret = self.secret
        if secret is not None:
            moves[COMPUTER] = secret.roll
        ra, rb = moves[a], moves[b]
        winner: str | None
        if ra is None and rb is None:
            winner = None
        elif ra is None:
            winner = b
        elif rb is None:
            winner = a
        else:
            outcome = self.rules.outcome(ra, rb)
            winner = a if outcome > 0 else b if outcome < 0 else None
        if winner is not None:
            self.score[winner] += 1
        # Records made on every move are called with positional arguments: attrs' ``__init__``
        # called with keywords is reached through a dict of them (0.2 us more each).
        commitment, nonce = (secret.commitment, secret.nonce) if secret else (None, None)
        result = Round(self.round, moves, winner, commitment, nonce)
        self.rounds.append(result)
        self.pending = {}
        effects: list[Effect] = [RoundPlayed(result, dict(self.score))]
        if ra is None and rb is None:
            effects.append(self._finish(Reason.ABANDONED, None, now))
        elif winner is not None and self.score[winner] >= (self.best_of + 1) // 2:  # wins_needed
            reason = Reason.TIMEOUT if timed_out and None in (ra, rb) else Reason.WON
            effects.append(self._finish(reason, winner, now))
        elif self.round >= MAX_ROUNDS:
            effects.append(self._finish(Reason.DRAWN, None, now))
        else:
            effects.append(self._open_round(now, rng))
        return effects

    def _finish(self, reason: Reason, winner: str | None, now: int) -> GameOver:
        self.status = Status.FINISHED
        self.reason = reason
        self.winner = winner
        self.finished = now
        self.deadline = None
        self.idle_until = None
        self.secret = None
        self.pending = {}
        return GameOver(winner, reason, dict(self.score))
