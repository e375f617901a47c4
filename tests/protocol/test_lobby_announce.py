"""Whatever the lobby goes through, its effects tell a subscriber exactly what it announced.

A ``RuleBasedStateMachine`` runs random lobby operations (joins, leaves, challenges answered or
not, the queue, games starting and ending, ``announce`` of any players) and keeps a *follower*:
the lobby as a subscriber of its events would know it from the effects alone.  After every step
the follower equals what the lobby says it announced; an announced status is the player's status
then and differs from the one announced before; and once every active player is announced, the
follower equals the lobby as it is.
"""

from __future__ import annotations

from collections import Counter

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from protocol.errors import ProtocolError
from protocol.lobby import (
    ChallengeDeclined,
    ChallengeMade,
    ChallengeWithdrawn,
    Lobby,
    LobbyEffect,
    PlayerJoined,
    PlayerLeft,
    PlayerStatus,
    QueueChanged,
    StatusChanged,
)
from protocol.pairing import summary

NAMES = ["ann", "Bob", "cy", "Dee"]
names = st.sampled_from(NAMES)
pools = st.sampled_from([("rps3", 3), ("rps3", 5), ("rps15", 5)])


class Follower:
    """The lobby as its effects tell it: statuses, pool sizes, and each player's open offers."""

    def __init__(self) -> None:
        self.players: dict[str, PlayerStatus] = {}
        self.pools: dict[tuple[str, int], int] = {}
        self.offers: dict[str, str] = {}  # open challenge id -> the challenged player

    def apply(self, effect: LobbyEffect) -> None:
        match effect:
            case PlayerJoined(name, status):
                assert name not in self.players
                self.players[name] = status
            case PlayerLeft(name):
                del self.players[name]
            case StatusChanged(name, status):
                assert self.players[name] != status, "a status announced without a change"
                self.players[name] = status
            case QueueChanged(pool):
                key = (pool.rules, pool.best_of)
                assert self.pools.get(key, 0) != pool.waiting, "a pool announced unchanged"
                self.pools[key] = pool.waiting
            case ChallengeMade(c):
                assert c.id not in self.offers
                self.offers[c.id] = c.challenged
            case ChallengeWithdrawn(id, to):
                assert self.offers.pop(id) == to  # to the challenged
            case ChallengeDeclined(id, by, _):
                assert self.offers.pop(id) == by  # by the challenged


class LobbyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.lobby = Lobby()
        self.follower = Follower()
        self.ids = 0
        self.games = 0

    def apply(self, effects: list[LobbyEffect]) -> None:
        for effect in effects:
            self.follower.apply(effect)

    def refused(self, action: object) -> None:
        """Run an action the lobby may refuse: a refusal changes nothing."""
        before = attrs.asdict(self.lobby)
        try:
            result = action()  # type: ignore[operator]
        except ProtocolError:
            assert attrs.asdict(self.lobby) == before
            return
        if isinstance(result, tuple):
            result = result[1]
        self.apply(result or [])

    @rule(name=names)
    def join(self, name: str) -> None:
        self.apply(self.lobby.join(name))

    @rule(name=names)
    def leave(self, name: str) -> None:
        self.apply(self.lobby.leave(name))

    @rule(name=names)
    def cancel(self, name: str) -> None:
        self.apply(self.lobby.cancel(name))

    @rule(challenger=names, challenged=names, rematch=st.booleans())
    def challenge(self, challenger: str, challenged: str, rematch: bool) -> None:
        self.ids += 1
        new_id, game = f"c{self.ids}", "g0" if rematch else None
        self.refused(lambda: self.lobby.challenge(challenger, challenged, 3, "rps3", new_id, game))

    @precondition(lambda self: self.lobby.challenges)
    @rule(data=st.data(), answer=st.sampled_from(["accept", "decline", "fail"]))
    def answer(self, data: st.DataObject, answer: str) -> None:
        c = data.draw(st.sampled_from(sorted(self.lobby.challenges.values(), key=lambda c: c.id)))
        by = data.draw(st.sampled_from([c.challenged, c.challenger]))
        if answer == "decline":
            self.refused(lambda: self.lobby.decline(c.id, by))
            return
        try:
            taken = self.lobby.take_challenge(c.id, by, accepting=True)
        except ProtocolError:
            return
        if answer == "fail":  # the game could not be stored
            self.apply(self.lobby.restore(taken))
            return
        self.follower.offers.pop(taken.id)  # accepted: the game's start tells the seats
        self.seat((taken.challenger, taken.challenged))

    @rule(name=names, pool=pools)
    def wait(self, name: str, pool: tuple[str, int]) -> None:
        self.refused(lambda: self.lobby.wait(name, *pool))

    @precondition(lambda self: len(self.lobby.queue) >= 2)
    @rule()
    def pair(self) -> None:
        first, second = self.lobby.queue[:2]
        self.seat((first.player, second.player))

    @rule(name=names)
    def against_the_computer(self, name: str) -> None:
        if name not in self.lobby.live:
            self.seat((name,))  # only the human seat is in the lobby

    @precondition(lambda self: self.lobby.live)
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        game = data.draw(st.sampled_from(sorted(set(self.lobby.live.values()))))
        seats = tuple(p for p, g in self.lobby.live.items() if g == game)
        self.lobby.unseat(seats, game)

    def seat(self, players: tuple[str, ...]) -> None:
        self.games += 1
        self.lobby.seat(players, f"g{self.games}")

    @rule(players=st.lists(names, max_size=4))
    def announce(self, players: list[str]) -> None:
        before = dict(self.follower.players)
        effects = self.lobby.announce(players)
        self.apply(effects)
        told = [e.name for e in effects if isinstance(e, StatusChanged)]
        assert len(told) == len(set(told)), "one status per player per announce"
        for e in effects:
            if isinstance(e, StatusChanged):
                assert e.status is self.lobby.status(e.name)
                assert before[e.name] is not e.status
        kinds = [isinstance(e, QueueChanged) for e in effects]
        assert kinds == sorted(kinds), "the pools after the statuses"

    @rule()
    def announce_everyone(self) -> None:
        self.apply(self.lobby.announce(sorted(self.lobby.active.values())))
        assert self.follower.players == dict(self.lobby.players())
        assert self.follower_pools() == {
            (p.rules, p.best_of): p.waiting for p in summary(self.lobby.queue)
        }

    def follower_pools(self) -> dict[tuple[str, int], int]:
        return {key: n for key, n in self.follower.pools.items() if n}

    @invariant()
    def the_follower_knows_what_was_announced(self) -> None:
        assert self.follower.players == self.lobby.announced
        announced = Counter(t.pool for t in self.lobby.announced_queue)
        assert self.follower_pools() == dict(announced)

    @invariant()
    def only_active_players_have_an_announced_status(self) -> None:
        assert set(self.lobby.announced) == set(self.lobby.active.values())

    @invariant()
    def the_follower_knows_the_open_challenges(self) -> None:
        open_ = {c.id: c.challenged for c in self.lobby.challenges.values()}
        assert self.follower.offers == open_


LobbyMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
test_lobby_effects_tell_what_was_announced = LobbyMachine.TestCase
