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
"""

from __future__ import annotations

import enum

from attrs import define, field, frozen

from protocol.errors import BadMessage, Conflict, Forbidden, NotFound


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


@define
class Lobby:
    """Active players, the queue, open challenges and live seats."""

    active: dict[str, str] = field(factory=dict)  # casefolded name -> registered name
    queue: list[Ticket] = field(factory=list)
    challenges: dict[str, Challenge] = field(factory=dict)
    live: dict[str, str] = field(factory=dict)  # player -> live game id

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

    def join(self, player: str) -> None:
        """Mark a player active."""
        self.active[player.casefold()] = player

    def ensure_free(self, player: str) -> None:
        """Raise ``Conflict`` naming the live game when ``player`` is already playing."""
        game = self.live.get(player)
        if game is not None:
            raise Conflict(f"{player} is already playing game {game}; finish or resign it first")

    def leave(self, player: str) -> list[Challenge]:
        """Mark a player gone: out of the queue, own challenges withdrawn (returned)."""
        self.active.pop(player.casefold(), None)
        return self.cancel(player)

    def cancel(self, player: str) -> list[Challenge]:
        """Leave the queue and withdraw own open challenges; returns the withdrawn ones."""
        self.queue = [t for t in self.queue if t.player != player]
        withdrawn = [c for c in self.challenges.values() if c.challenger == player]
        for c in withdrawn:
            del self.challenges[c.id]
        return withdrawn

    def challenge(
        self,
        challenger: str,
        challenged: str,
        best_of: int,
        rules: str,
        new_id: str,
        rematch: str | None = None,
    ) -> tuple[Challenge, bool]:
        """Open a challenge (or return the open one); the flag is True when it is new."""
        if challenger.casefold() == challenged.casefold():
            raise BadMessage("you cannot challenge yourself")
        target = self.lookup(challenged)
        if target is None:
            raise NotFound(f"no active player named {challenged!r}")
        self.ensure_free(challenger)
        for c in self.challenges.values():
            if c.challenger == challenger and c.challenged == target:
                return c, False
        made = Challenge(new_id, challenger, target, best_of, rules, rematch)
        self.challenges[new_id] = made
        return made, True

    def take_challenge(self, challenge_id: str, by: str, *, accepting: bool) -> Challenge:
        """Remove a challenge addressed to ``by`` for accepting or declining it."""
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

    def restore(self, challenge: Challenge) -> bool:
        """Put back a challenge taken for accepting whose game could not start; False (and
        nothing changes) when it can no longer be open: a seat has left, or the challenger has
        challenged the same player again meanwhile."""
        if self.lookup(challenge.challenger) is None or self.lookup(challenge.challenged) is None:
            return False
        for c in self.challenges.values():
            if c.challenger == challenge.challenger and c.challenged == challenge.challenged:
                return False
        self.challenges[challenge.id] = challenge
        return True

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

    def unseat(self, players: tuple[str, ...], game_id: str) -> None:
        """Record that a game ended."""
        for p in players:
            if self.live.get(p) == game_id:
                del self.live[p]
