"""The lobby's effects: what each change announces, and what ``announce`` tells and when."""

from __future__ import annotations

import attrs
import pytest

from protocol.errors import Conflict, Forbidden, ProtocolError
from protocol.lobby import (
    ChallengeDeclined,
    ChallengeMade,
    ChallengeWithdrawn,
    Lobby,
    PlayerJoined,
    PlayerLeft,
    PlayerStatus,
    QueueChanged,
    StatusChanged,
)
from protocol.pairing import Pool

IDLE, QUEUED, PLAYING = PlayerStatus.IDLE, PlayerStatus.QUEUED, PlayerStatus.PLAYING


def lobby_with(*names: str) -> Lobby:
    lobby = Lobby()
    for name in names:
        lobby.join(name)
    return lobby


# -- presence --------------------------------------------------------------------------------


def test_joining_announces_the_player_with_their_status() -> None:
    lobby = Lobby()
    assert lobby.join("Ann") == [PlayerJoined("Ann", IDLE)]
    assert lobby.announced == {"Ann": IDLE}


def test_a_player_seated_before_joining_joins_playing() -> None:
    lobby = Lobby()
    lobby.seat(("Ann", "computer"), "g1")  # a live game resumed after a restart
    assert lobby.join("Ann") == [PlayerJoined("Ann", PLAYING)]


def test_joining_again_while_active_announces_nothing() -> None:
    lobby = lobby_with("Ann")
    assert lobby.join("ann") == []
    assert lobby.active == {"ann": "Ann"}


def test_leaving_announces_the_player_left_and_forgets_their_status() -> None:
    lobby = lobby_with("Ann", "Bob")
    assert lobby.leave("Ann") == [PlayerLeft("Ann")]
    assert lobby.announced == {"Bob": IDLE}


def test_leaving_withdraws_own_challenges_before_announcing_the_leave() -> None:
    lobby = lobby_with("Ann", "Bob", "Cy")
    lobby.challenge("Ann", "Bob", 3, "rps3", "c1")
    lobby.challenge("Cy", "Ann", 3, "rps3", "c2")
    assert lobby.leave("Ann") == [ChallengeWithdrawn("c1", "Bob"), PlayerLeft("Ann")]
    assert list(lobby.challenges) == ["c2"]


def test_leaving_after_cancel_announces_only_the_leave() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Ann", "Bob", 3, "rps3", "c1")
    assert lobby.cancel("Ann") == [ChallengeWithdrawn("c1", "Bob")]
    assert lobby.leave("Ann") == [PlayerLeft("Ann")]


def test_leaving_when_not_active_announces_nothing() -> None:
    assert lobby_with("Ann").leave("Bob") == []


# -- challenges ------------------------------------------------------------------------------


def test_a_rematch_challenge_is_made_with_its_game() -> None:
    lobby = lobby_with("Ann", "Bob")
    made, effects = lobby.challenge("Ann", "Bob", 3, "rps3", "c1", rematch="g1")
    assert effects == [ChallengeMade(made)] and made.rematch == "g1"


def test_a_refused_challenge_announces_nothing_and_changes_nothing() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.seat(("Ann", "computer"), "g1")
    before = attrs.asdict(lobby)
    with pytest.raises(Conflict):
        lobby.challenge("Ann", "Bob", 3, "rps3", "c1")
    assert attrs.asdict(lobby) == before


def test_declining_tells_the_challenger_who_declined() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Ann", "Bob", 3, "rps3", "c1")
    assert lobby.decline("c1", "Bob") == [ChallengeDeclined("c1", "Bob", "Ann")]
    assert lobby.challenges == {}


def test_declining_anothers_challenge_is_forbidden_and_keeps_it() -> None:
    lobby = lobby_with("Ann", "Bob", "Cy")
    lobby.challenge("Ann", "Bob", 3, "rps3", "c1")
    with pytest.raises(Forbidden):
        lobby.decline("c1", "Cy")
    assert list(lobby.challenges) == ["c1"]


def test_declining_while_playing_is_allowed() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Ann", "Bob", 3, "rps3", "c1")
    lobby.seat(("Bob", "computer"), "g1")
    assert lobby.decline("c1", "Bob") == [ChallengeDeclined("c1", "Bob", "Ann")]


def test_a_challenge_that_cannot_be_restored_is_withdrawn_from_the_challenged() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Ann", "Bob", 3, "rps3", "c1")
    taken = lobby.take_challenge("c1", "Bob", accepting=True)
    lobby.leave("Bob")
    assert lobby.restore(taken) == [ChallengeWithdrawn("c1", "Bob")]


# -- announce: statuses, then the queue's pools ----------------------------------------------


def test_queueing_is_announced_as_a_status_then_the_pool() -> None:
    lobby = lobby_with("Ann")
    lobby.wait("Ann", "rps3", 3)
    assert lobby.announce(("Ann",)) == [
        StatusChanged("Ann", QUEUED),
        QueueChanged(Pool("rps3", 3, 1)),
    ]


def test_nothing_is_announced_twice() -> None:
    lobby = lobby_with("Ann")
    lobby.wait("Ann", "rps3", 3)
    lobby.announce(("Ann",))
    assert lobby.announce(("Ann",)) == []


def test_a_status_changed_and_changed_back_before_announcing_is_not_announced() -> None:
    lobby = lobby_with("Ann")
    lobby.wait("Ann", "rps3", 3)
    lobby.cancel("Ann")
    assert lobby.announce(("Ann",)) == []


def test_a_pair_made_at_once_is_announced_playing_and_the_pool_unchanged() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.wait("Ann", "rps3", 3)
    lobby.announce(("Ann",))
    lobby.wait("Bob", "rps3", 3)
    lobby.seat(("Ann", "Bob"), "g1")
    assert lobby.announce(("Ann", "Bob")) == [
        StatusChanged("Ann", PLAYING),
        StatusChanged("Bob", PLAYING),
        QueueChanged(Pool("rps3", 3, 0)),
    ]


def test_statuses_come_in_the_order_asked_and_pools_by_rules_then_best_of() -> None:
    lobby = lobby_with("Ann", "Bob", "Cy")
    lobby.wait("Cy", "rps5", 1)
    lobby.wait("Bob", "rps3", 5)
    lobby.wait("Ann", "rps3", 3)
    assert lobby.announce(("Cy", "Ann", "Bob")) == [
        StatusChanged("Cy", QUEUED),
        StatusChanged("Ann", QUEUED),
        StatusChanged("Bob", QUEUED),
        QueueChanged(Pool("rps3", 3, 1)),
        QueueChanged(Pool("rps3", 5, 1)),
        QueueChanged(Pool("rps5", 1, 1)),
    ]


def test_announcing_no_player_tells_the_queue_only() -> None:
    lobby = lobby_with("Ann")
    lobby.wait("Ann", "rps3", 3)
    assert lobby.announce() == [QueueChanged(Pool("rps3", 3, 1))]
    assert lobby.announced == {"Ann": IDLE}


def test_an_inactive_player_gets_no_status() -> None:
    lobby = Lobby()
    lobby.seat(("Ann", "computer"), "g1")
    assert lobby.announce(("Ann",)) == []
    assert lobby.announced == {}


def test_a_player_who_left_the_queue_by_leaving_empties_the_pool_at_the_next_announce() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.wait("Ann", "rps3", 3)
    lobby.announce(("Ann",))
    assert lobby.leave("Ann") == [PlayerLeft("Ann")]
    assert lobby.announce() == [QueueChanged(Pool("rps3", 3, 0))]


def test_a_game_that_ends_announces_its_seats_idle_again() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.seat(("Ann", "Bob"), "g1")
    lobby.announce(("Ann", "Bob"))
    lobby.unseat(("Ann", "Bob"), "g1")
    assert lobby.announce(("Ann", "Bob")) == [
        StatusChanged("Ann", IDLE),
        StatusChanged("Bob", IDLE),
    ]


def test_a_refused_wait_leaves_what_is_announced_untouched() -> None:
    lobby = lobby_with("Ann")
    lobby.seat(("Ann", "computer"), "g1")
    lobby.announce(("Ann",))
    with pytest.raises(ProtocolError):
        lobby.wait("Ann", "rps3", 3)
    assert lobby.announce(("Ann",)) == []
