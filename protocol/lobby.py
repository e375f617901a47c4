"""The lobby: who is active, who is queued, open challenges, and who is playing which game.

Theory of operation
-------------------
Names given to the lobby are the players' registered spellings (the edge resolves case first).
A player's status is derived: ``playing`` while they hold a seat in a live game, else ``queued``
while in the matchmaking queue, else ``idle``.  ``enqueue`` pairs the first waiting player with
the same ``rules`` and ``best_of``; ``wait`` only queues (the hub pairs by rating with
``protocol.pairing``).  A challenge lives until it is accepted, declined or withdrawn; a second
challenge from the same player to the same player returns the open one.

Methods validate everything before they change anything and raise a ``ProtocolError`` leaf on
refusal, so a refused request leaves the lobby untouched.

The lobby also says what its topics announce, as the game does for its own: a method returns, in
order, the effects it causes directly (``PlayerJoined``, ``PlayerLeft``, ``ChallengeMade``,
``ChallengeWithdrawn``, ``ChallengeDeclined``; ``wait``, ``enqueue``, ``seat`` and ``unseat`` cause
none), and ``protocol.lobby_wire`` gives each its topic, event name and data.  Statuses and queue
pools are derived, so no method that changes them announces them; ``announce`` does, when the edge
says a change is complete (its game stored, its pairs made).  It compares what the lobby's events
last told (``announced``, ``announced_queue``) with the lobby as it is then, and returns a
``StatusChanged`` for each named active player whose status differs, then a ``QueueChanged`` for
each pool whose size differs.  So an unchanged status is never announced, nor a state that lasted
only within one change (queued for the instant before being paired); and ``announced`` with
``announced_queue`` is the lobby's snapshot as its events told it, never ahead of them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TypeAlias

from attrs import define, field, frozen

from protocol.errors import BadMessage, Conflict, Forbidden, NotFound
from protocol.pairing import Pool, changes


class PlayerStatus(enum.Enum):
    """A lobby status."""

    IDLE = "idle"  # active, neither queued nor playing
    QUEUED = "queued"  # waiting in the matchmaking queue
    PLAYING = "playing"  # holds a seat in a live game


@frozen
class Challenge:
    """An open invitation from one player to another."""

    id: str
    challenger: str
    challenged: str
    best_of: int
    rules: str
    rematch: str | None = None  # the finished game this challenge plays again

    def to_json(self) -> dict[str, object]:
        """The ``challenge`` event's data (``rematch`` only for a rematch)."""
        data: dict[str, object] = {
            "id": self.id,
            "from": self.challenger,
            "best_of": self.best_of,
            "rules": self.rules,
        }
        if self.rematch is not None:
            data["rematch"] = self.rematch
        return data


@frozen
class Ticket:
    """A place in the matchmaking queue."""

    player: str
    rules: str
    best_of: int

    @property
    def pool(self) -> tuple[str, int]:
        """The pool the ticket waits in (``protocol.pairing``)."""
        return (self.rules, self.best_of)


@frozen
class PlayerJoined:
    """Effect: a player became active (``player_joined`` on the lobby)."""

    name: str
    status: PlayerStatus


@frozen
class PlayerLeft:
    """Effect: a player left (``player_left`` on the lobby)."""

    name: str


@frozen
class StatusChanged:
    """Effect: an active player's status differs from the one last announced
    (``player_status`` on the lobby)."""

    name: str
    status: PlayerStatus


@frozen
class QueueChanged:
    """Effect: a pool's size differs from the one last announced (``queue`` on the lobby;
    ``waiting`` 0 when it emptied)."""

    pool: Pool


@frozen
class ChallengeMade:
    """Effect: a new challenge (``challenge`` on the challenged player's topic)."""

    challenge: Challenge


@frozen
class ChallengeWithdrawn:
    """Effect: an open challenge is gone unanswered (``challenge_withdrawn`` on the topic of
    ``to``, the challenged player)."""

    id: str
    to: str


@frozen
class ChallengeDeclined:
    """Effect: a challenge was declined ``by`` the challenged player (``challenge_declined``
    on the topic of ``to``, the challenger)."""

    id: str
    by: str
    to: str


LobbyEffect: TypeAlias = (
    PlayerJoined
    | PlayerLeft
    | StatusChanged
    | QueueChanged
    | ChallengeMade
    | ChallengeWithdrawn
    | ChallengeDeclined
)


@define
class Lobby:
    """Active players, the queue, open challenges and live seats."""

    active: dict[str, str] = field(factory=dict)  # casefolded name -> registered name
    queue: list[Ticket] = field(factory=list)
    challenges: dict[str, Challenge] = field(factory=dict)
    live: dict[str, str] = field(factory=dict)  # player -> live game id
    announced: dict[str, PlayerStatus] = field(factory=dict)  # active player -> status last told
    announced_queue: list[Ticket] = field(factory=list)  # the queue whose pools were last told

    def status(self, player: str) -> PlayerStatus:
        """The player's lobby status."""
        if player in self.live:
            return PlayerStatus.PLAYING
        if any(t.player == player for t in self.queue):
            return PlayerStatus.QUEUED
        return PlayerStatus.IDLE

    def players(self) -> list[tuple[str, PlayerStatus]]:
        """Active players with their status, ordered by name ignoring case."""
        return [(n, self.status(n)) for _, n in sorted(self.active.items())]

    def lookup(self, name: str) -> str | None:
        """The active player's registered spelling, or None."""
        return self.active.get(name.casefold())

    def join(self, player: str) -> list[LobbyEffect]:
        """Mark a player active: ``PlayerJoined`` with their status (nothing when already
        active)."""
        if self.lookup(player) is not None:
            return []
        self.active[player.casefold()] = player
        status = self.announced[player] = self.status(player)
        return [PlayerJoined(player, status)]

    def ensure_free(self, player: str) -> None:
        """Raise ``Conflict`` naming the live game when ``player`` is already playing."""
        game = self.live.get(player)
        if game is not None:
            raise Conflict(f"{player} is already playing game {game}; finish or resign it first")

    def leave(self, player: str) -> list[LobbyEffect]:
        """Mark a player gone: out of the queue, own challenges withdrawn, then ``PlayerLeft``
        (only that when ``cancel`` came first; nothing when not active)."""
        effects = self.cancel(player)
        if self.active.pop(player.casefold(), None) is not None:
            self.announced.pop(player, None)
            effects.append(PlayerLeft(player))
        return effects

    def cancel(self, player: str) -> list[LobbyEffect]:
        """Leave the queue and withdraw own open challenges: ``ChallengeWithdrawn`` each."""
        self.queue = [t for t in self.queue if t.player != player]
        withdrawn = [c for c in self.challenges.values() if c.challenger == player]
        for c in withdrawn:
            del self.challenges[c.id]
        return [ChallengeWithdrawn(c.id, c.challenged) for c in withdrawn]

    def challenge(
        self,
        challenger: str,
        challenged: str,
        best_of: int,
        rules: str,
        new_id: str,
        rematch: str | None = None,
    ) -> tuple[Challenge, list[LobbyEffect]]:
        """Open a challenge: it and ``ChallengeMade``; or the open one to the same player and
        no effect."""
        if challenger.casefold() == challenged.casefold():
            raise BadMessage("you cannot challenge yourself")
        target = self.lookup(challenged)
        if target is None:
            raise NotFound(f"no active player named {challenged!r}")
        self.ensure_free(challenger)
        for c in self.challenges.values():
            if c.challenger == challenger and c.challenged == target:
                return c, []
        made = Challenge(new_id, challenger, target, best_of, rules, rematch)
        self.challenges[new_id] = made
        return made, [ChallengeMade(made)]

    def take_challenge(self, challenge_id: str, by: str, *, accepting: bool) -> Challenge:
        """Remove a challenge addressed to ``by`` for accepting or declining it (accepting
        announces nothing: the game's start does)."""
        c = self.challenges.get(challenge_id)
        if c is None:
            raise NotFound(f"no open challenge {challenge_id!r}")
        if c.challenged != by:
            raise Forbidden(f"challenge {challenge_id} is addressed to {c.challenged}")
        if accepting:
            self.ensure_free(by)
            self.ensure_free(c.challenger)
        del self.challenges[challenge_id]
        return c

    def decline(self, challenge_id: str, by: str) -> list[LobbyEffect]:
        """Decline a challenge addressed to ``by``: ``ChallengeDeclined`` to its challenger."""
        c = self.take_challenge(challenge_id, by, accepting=False)
        return [ChallengeDeclined(c.id, by, c.challenger)]

    def restore(self, challenge: Challenge) -> list[LobbyEffect]:
        """Put back a challenge taken for accepting whose game could not start (no effect).  When
        it can no longer be open (a seat has left, or the challenger has challenged the same
        player again meanwhile) nothing changes, and the challenged player is told it is gone:
        ``ChallengeWithdrawn``."""
        withdrawn: list[LobbyEffect] = [ChallengeWithdrawn(challenge.id, challenge.challenged)]
        if self.lookup(challenge.challenger) is None or self.lookup(challenge.challenged) is None:
            return withdrawn
        for c in self.challenges.values():
            if c.challenger == challenge.challenger and c.challenged == challenge.challenged:
                return withdrawn
        self.challenges[challenge.id] = challenge
        return []

    def enqueue(self, player: str, rules: str, best_of: int) -> Ticket | None:
        """Queue ``player``; returns the ticket it is paired with, or None when it waits."""
        self.ensure_free(player)
        self.queue = [t for t in self.queue if t.player != player]
        for i, t in enumerate(self.queue):
            if t.rules == rules and t.best_of == best_of:
                del self.queue[i]
                return t
        self.queue.append(Ticket(player, rules, best_of))
        return None

    def wait(self, player: str, rules: str, best_of: int) -> None:
        """Queue ``player`` without pairing (the hub pairs by rating: ``protocol.pairing``)."""
        self.ensure_free(player)
        self.queue = [t for t in self.queue if t.player != player]
        self.queue.append(Ticket(player, rules, best_of))

    def seat(self, players: tuple[str, ...], game_id: str) -> None:
        """Record that these players hold seats in a live game (and leave the queue)."""
        for p in players:
            self.live[p] = game_id
        self.queue = [t for t in self.queue if t.player not in players]

    def seat_found(self, players: tuple[str, ...], game_id: str) -> list[LobbyEffect]:
        """Seat the players of a live game the lobby did not know of (its start was stored and
        the lobby's part of it lost): the open challenges between them are withdrawn
        (``ChallengeWithdrawn`` each), as the one accepted would have been taken."""
        self.seat(players, game_id)
        among = [c for c in self.challenges.values() if {c.challenger, c.challenged} <= {*players}]
        for c in among:
            del self.challenges[c.id]
        return [ChallengeWithdrawn(c.id, c.challenged) for c in among]

    def unseat(self, players: tuple[str, ...], game_id: str) -> None:
        """Record that a game ended."""
        for p in players:
            if self.live.get(p) == game_id:
                del self.live[p]

    def announce(self, players: Iterable[str] = ()) -> list[LobbyEffect]:
        """What the lobby's events have not told yet: ``StatusChanged`` for each of ``players``
        (registered spellings; inactive ones are skipped) whose status differs from the one last
        announced, then ``QueueChanged`` for each pool whose size differs; both now announced."""
        effects: list[LobbyEffect] = []
        for name in players:
            if self.lookup(name) is None:
                continue
            status = self.status(name)
            if self.announced.get(name) != status:
                self.announced[name] = status
                effects.append(StatusChanged(name, status))
        effects.extend(QueueChanged(pool) for pool in changes(self.announced_queue, self.queue))
        self.announced_queue = list(self.queue)
        return effects
