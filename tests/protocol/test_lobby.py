"""The lobby: presence, challenges, the matchmaking queue and live seats."""

from __future__ import annotations

import attrs
import pytest

from protocol.errors import BadMessage, Conflict, Forbidden, NotFound
from protocol.lobby import (
    Challenge,
    ChallengeMade,
    ChallengeWithdrawn,
    Lobby,
    PlayerLeft,
    PlayerStatus,
    Ticket,
)


def lobby_with(*names: str) -> Lobby:
    lobby = Lobby()
    for name in names:
        lobby.join(name)
    return lobby


# -- presence and status ---------------------------------------------------------------------


def test_a_joined_player_is_idle() -> None:
    assert lobby_with("Ann").status("Ann") is PlayerStatus.IDLE


def test_a_queued_player_is_queued() -> None:
    lobby = lobby_with("Ann")
    lobby.enqueue("Ann", "rps15", 5)
    assert lobby.status("Ann") is PlayerStatus.QUEUED


def test_a_seated_player_is_playing() -> None:
    lobby = lobby_with("Ann")
    lobby.seat(("Ann", "computer"), "g1")
    assert lobby.status("Ann") is PlayerStatus.PLAYING


def test_an_unseated_player_is_idle_again() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.seat(("Ann", "Bob"), "g1")
    lobby.unseat(("Ann", "Bob"), "g1")
    assert [lobby.status("Ann"), lobby.status("Bob")] == [PlayerStatus.IDLE, PlayerStatus.IDLE]


def test_unseating_another_game_keeps_the_live_seat() -> None:
    lobby = lobby_with("Ann")
    lobby.seat(("Ann",), "g2")
    lobby.unseat(("Ann",), "g1")
    assert lobby.live == {"Ann": "g2"}


def test_a_found_game_seats_its_players_and_withdraws_the_challenges_between_them() -> None:
    lobby = lobby_with("Ann", "Bob", "Cy")
    lobby.challenge("Bob", "Ann", 3, "rps3", "c1")
    lobby.challenge("Ann", "Bob", 5, "rps3", "c2")
    lobby.challenge("Cy", "Ann", 3, "rps3", "c3")
    effects = lobby.seat_found(("Ann", "Bob"), "g1")
    assert effects == [ChallengeWithdrawn("c1", "Ann"), ChallengeWithdrawn("c2", "Bob")]
    assert lobby.live == {"Ann": "g1", "Bob": "g1"}
    assert list(lobby.challenges) == ["c3"]
    assert lobby.seat_found(("Ann", "Bob"), "g1") == []


def test_status_values_are_the_spec_words() -> None:
    assert [s.value for s in PlayerStatus] == ["idle", "queued", "playing"]


def test_players_lists_active_players_by_name_ignoring_case() -> None:
    lobby = lobby_with("bob", "Ann", "carl")
    lobby.enqueue("carl", "rps3", 3)
    assert lobby.players() == [
        ("Ann", PlayerStatus.IDLE),
        ("bob", PlayerStatus.IDLE),
        ("carl", PlayerStatus.QUEUED),
    ]


def test_lookup_ignores_case_and_answers_with_the_registered_spelling() -> None:
    assert lobby_with("Ann").lookup("aNN") == "Ann"


def test_lookup_of_an_inactive_player_is_none() -> None:
    assert lobby_with("Ann").lookup("Bob") is None


def test_a_player_who_leaves_is_no_longer_active() -> None:
    lobby = lobby_with("Ann")
    lobby.leave("Ann")
    assert lobby.players() == []


# -- challenges ------------------------------------------------------------------------------


def test_challenging_yourself_is_a_bad_message() -> None:
    lobby = lobby_with("Ann")
    with pytest.raises(BadMessage) as info:
        lobby.challenge("Ann", "ann", 5, "rps15", "c1")
    assert info.value.code == "bad_request"


def test_challenging_an_inactive_player_is_not_found() -> None:
    lobby = lobby_with("Ann")
    with pytest.raises(NotFound) as info:
        lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    assert info.value.code == "not_found"


def test_a_challenge_is_addressed_to_the_registered_spelling() -> None:
    lobby = lobby_with("Ann", "Bob")
    made, effects = lobby.challenge("Ann", "BOB", 3, "rps3", "c1")
    assert made == Challenge("c1", "Ann", "Bob", 3, "rps3")
    assert effects == [ChallengeMade(made)]


def test_a_second_challenge_to_the_same_player_returns_the_open_one() -> None:
    lobby = lobby_with("Ann", "Bob")
    first, _ = lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    again, effects = lobby.challenge("Ann", "bob", 7, "rps3", "c2")
    assert (again, effects) == (first, [])
    assert list(lobby.challenges) == ["c1"]


def test_a_challenge_event_carries_id_from_best_of_and_rules() -> None:
    made = Challenge("c1", "Ann", "Bob", 5, "rps15")
    assert made.to_json() == {"id": "c1", "from": "Ann", "best_of": 5, "rules": "rps15"}


def test_a_playing_player_cannot_challenge_and_the_conflict_names_the_game() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.seat(("Ann", "computer"), "g-77")
    with pytest.raises(Conflict) as info:
        lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    assert info.value.code == "conflict"
    assert "g-77" in info.value.message
    assert lobby.challenges == {}


def test_accepting_a_challenge_removes_and_returns_it() -> None:
    lobby = lobby_with("Ann", "Bob")
    made, _ = lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    assert lobby.take_challenge("c1", "Bob", accepting=True) == made
    assert lobby.challenges == {}


def test_a_challenge_taken_for_a_game_that_could_not_start_is_restored() -> None:
    lobby = lobby_with("Ann", "Bob")
    made, _ = lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    taken = lobby.take_challenge("c1", "Bob", accepting=True)
    assert lobby.restore(taken) == []
    assert lobby.challenges == {"c1": made}


def test_a_challenge_is_not_restored_once_the_challenger_has_left() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    taken = lobby.take_challenge("c1", "Bob", accepting=True)
    lobby.leave("Ann")
    assert lobby.restore(taken) == [ChallengeWithdrawn("c1", "Bob")]
    assert lobby.challenges == {}


def test_a_challenge_is_not_restored_beside_a_newer_one_to_the_same_player() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    taken = lobby.take_challenge("c1", "Bob", accepting=True)
    newer, _ = lobby.challenge("Ann", "Bob", 3, "rps3", "c2")
    assert lobby.restore(taken) == [ChallengeWithdrawn("c1", "Bob")]
    assert lobby.challenges == {"c2": newer}


def test_declining_a_challenge_removes_and_returns_it() -> None:
    lobby = lobby_with("Ann", "Bob")
    made, _ = lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    assert lobby.take_challenge("c1", "Bob", accepting=False) == made
    assert lobby.challenges == {}


def test_accepting_anothers_challenge_is_forbidden() -> None:
    lobby = lobby_with("Ann", "Bob", "Carl")
    lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    with pytest.raises(Forbidden) as info:
        lobby.take_challenge("c1", "Carl", accepting=True)
    assert info.value.code == "forbidden"
    assert list(lobby.challenges) == ["c1"]


def test_the_challenger_cannot_accept_their_own_challenge() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    with pytest.raises(Forbidden):
        lobby.take_challenge("c1", "Ann", accepting=True)


def test_declining_anothers_challenge_is_forbidden() -> None:
    lobby = lobby_with("Ann", "Bob", "Carl")
    lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    with pytest.raises(Forbidden):
        lobby.take_challenge("c1", "Carl", accepting=False)


def test_accepting_an_unknown_challenge_is_not_found() -> None:
    lobby = lobby_with("Ann")
    with pytest.raises(NotFound) as info:
        lobby.take_challenge("nope", "Ann", accepting=True)
    assert info.value.code == "not_found"


def test_accepting_while_playing_is_a_conflict_and_keeps_the_challenge() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    lobby.seat(("Bob", "computer"), "g9")
    with pytest.raises(Conflict) as info:
        lobby.take_challenge("c1", "Bob", accepting=True)
    assert "g9" in info.value.message
    assert list(lobby.challenges) == ["c1"]


def test_accepting_when_the_challenger_is_playing_is_a_conflict() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    lobby.seat(("Ann", "computer"), "g3")
    with pytest.raises(Conflict) as info:
        lobby.take_challenge("c1", "Bob", accepting=True)
    assert "g3" in info.value.message


def test_declining_while_playing_is_allowed() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    lobby.seat(("Bob", "computer"), "g9")
    assert lobby.take_challenge("c1", "Bob", accepting=False).id == "c1"


# -- the queue -------------------------------------------------------------------------------


def test_the_first_player_in_the_queue_waits() -> None:
    lobby = lobby_with("Ann")
    assert lobby.enqueue("Ann", "rps15", 5) is None
    assert lobby.queue == [Ticket("Ann", "rps15", 5)]


def test_a_compatible_player_is_paired_with_the_waiting_one() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.enqueue("Ann", "rps15", 5)
    assert lobby.enqueue("Bob", "rps15", 5) == Ticket("Ann", "rps15", 5)
    assert lobby.queue == []


def test_the_queue_does_not_pair_different_rules() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.enqueue("Ann", "rps15", 5)
    assert lobby.enqueue("Bob", "rps3", 5) is None
    assert [t.player for t in lobby.queue] == ["Ann", "Bob"]


def test_the_queue_does_not_pair_different_best_of() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.enqueue("Ann", "rps15", 5)
    assert lobby.enqueue("Bob", "rps15", 3) is None


def test_the_queue_pairs_with_the_earliest_compatible_ticket() -> None:
    lobby = lobby_with("Ann", "Bob", "Carl", "Dora")
    lobby.enqueue("Ann", "rps3", 3)
    lobby.enqueue("Bob", "rps15", 5)
    lobby.enqueue("Carl", "rpsls", 5)
    assert lobby.enqueue("Dora", "rps15", 5) == Ticket("Bob", "rps15", 5)
    assert [t.player for t in lobby.queue] == ["Ann", "Carl"]


def test_waiting_players_keep_their_order_in_the_queue() -> None:
    lobby = lobby_with("Ann", "Bob", "Carl")
    for name, rules in [("Carl", "rpsls"), ("Ann", "rps3"), ("Bob", "rps15")]:
        lobby.enqueue(name, rules, 5)
    assert [t.player for t in lobby.queue] == ["Carl", "Ann", "Bob"]


def test_queueing_again_replaces_the_own_ticket_and_never_pairs_with_oneself() -> None:
    lobby = lobby_with("Ann")
    lobby.enqueue("Ann", "rps15", 5)
    assert lobby.enqueue("Ann", "rps15", 5) is None
    assert lobby.queue == [Ticket("Ann", "rps15", 5)]


def test_a_playing_player_cannot_queue_and_the_conflict_names_the_game() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.enqueue("Bob", "rps15", 5)
    lobby.seat(("Ann", "computer"), "g-12")
    before = attrs.asdict(lobby)
    with pytest.raises(Conflict) as info:
        lobby.enqueue("Ann", "rps15", 5)
    assert info.value.code == "conflict"
    assert "g-12" in info.value.message
    assert attrs.asdict(lobby) == before


def test_seating_players_takes_them_out_of_the_queue() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.enqueue("Ann", "rps15", 5)
    lobby.seat(("Ann", "Bob"), "g1")
    assert lobby.queue == []


# -- cancel and leave ------------------------------------------------------------------------


def test_cancel_withdraws_own_challenges_one_effect_each_to_the_challenged() -> None:
    lobby = lobby_with("Ann", "Bob", "Carl")
    lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    lobby.challenge("Ann", "Carl", 5, "rps15", "c2")
    assert lobby.cancel("Ann") == [
        ChallengeWithdrawn("c1", "Bob"),
        ChallengeWithdrawn("c2", "Carl"),
    ]
    assert lobby.challenges == {}


def test_cancel_keeps_challenges_addressed_to_the_player() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Bob", "Ann", 5, "rps15", "c1")
    assert lobby.cancel("Ann") == []
    assert list(lobby.challenges) == ["c1"]


def test_cancel_leaves_the_queue() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.enqueue("Ann", "rps15", 5)
    lobby.enqueue("Bob", "rps3", 5)
    lobby.cancel("Ann")
    assert [t.player for t in lobby.queue] == ["Bob"]
    assert lobby.status("Ann") is PlayerStatus.IDLE


def test_leave_withdraws_own_challenges_and_dequeues() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
    lobby.enqueue("Ann", "rps3", 3)
    assert lobby.leave("Ann") == [ChallengeWithdrawn("c1", "Bob"), PlayerLeft("Ann")]
    assert (lobby.challenges, lobby.queue, lobby.lookup("Ann")) == ({}, [], None)


def test_a_player_who_left_cannot_be_challenged() -> None:
    lobby = lobby_with("Ann", "Bob")
    lobby.leave("Bob")
    with pytest.raises(NotFound):
        lobby.challenge("Ann", "Bob", 5, "rps15", "c1")
