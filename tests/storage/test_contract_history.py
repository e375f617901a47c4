"""The storage contract, stats, the leaderboard and lists of games, on every backend."""

from __future__ import annotations

import pytest

from protocol.game import COMPUTER, MAX_ROUNDS, Reason
from storage.base import (
    BadCursor,
    Leader,
    PlayerStats,
    Storage,
)
from storage.sql import encode_cursor
from tests.storage.contract import T0, Table, assert_same_game, register

# -- stats and the leaderboard ------------------------------------------------------------------


async def league(storage: Storage) -> None:
    """A small history; the expectations in the tests below are worked out by hand from it.

    alice: beats the computer (g1), loses to Bob (g2), resigns to the computer (g3), abandons with
    Bob (g4), draws 50 tied rounds with Bob (g5), is playing carol with one round won (g6).
    dave beats the computer twice (g7, g8); erin loses to the computer (g9).
    """
    await register(storage, "alice", "Bob", "carol", "dave", "erin")
    g1 = await Table.start(storage, ("alice", COMPUTER), id="g1", best_of=1, now=T0 + 1)
    await g1.win()
    g2 = await Table.start(storage, ("Bob", "alice"), id="g2", best_of=1, now=T0 + 2)
    await g2.round("Rock", "Scissors")
    g3 = await Table.start(storage, ("alice", COMPUTER), id="g3", now=T0 + 3)
    await g3.resign("alice")
    g4 = await Table.start(storage, ("alice", "Bob"), id="g4", round_seconds=1, now=T0 + 4)
    await g4.expire()
    g5 = await Table.start(storage, ("alice", "Bob"), id="g5", best_of=1, now=T0 + 5)
    for _ in range(MAX_ROUNDS):
        await g5.round("Rock", "Rock")
    g6 = await Table.start(storage, ("carol", "alice"), id="g6", now=T0 + 6)
    await g6.round("Rock", "Paper")
    for n, id in enumerate(["g7", "g8"]):
        dave = await Table.start(storage, ("dave", COMPUTER), id=id, best_of=1, now=T0 + 7 + n)
        await dave.win()
    g9 = await Table.start(storage, ("erin", COMPUTER), id="g9", best_of=1, now=T0 + 9)
    await g9.lose()
    reasons = [t.game.reason for t in (g1, g2, g3, g4, g5)]
    assert reasons == [Reason.WON, Reason.WON, Reason.RESIGNED, Reason.ABANDONED, Reason.DRAWN]


async def test_player_stats_count_finished_games_and_all_rounds(storage: Storage) -> None:
    await league(storage)
    expected = PlayerStats(games=5, wins=1, losses=2, draws=2, rounds_won=2, rounds_lost=1)
    assert await storage.player_stats("alice") == expected
    assert await storage.player_stats("ALICE") == expected


async def test_player_stats_of_a_player_without_games_are_zero(storage: Storage) -> None:
    await register(storage, "Alice")
    assert await storage.player_stats("Alice") == PlayerStats(0, 0, 0, 0, 0, 0)


def scores(leaders: list[Leader]) -> list[tuple[str, int, int]]:
    """Each leader as ``(name, wins, games)``."""
    return [(leader.name, leader.wins, leader.games) for leader in leaders]


async def test_the_leaderboard_orders_by_wins_then_name_ignoring_case_without_the_computer(
    storage: Storage,
) -> None:
    await league(storage)
    assert scores(await storage.leaderboard(10)) == [
        ("dave", 2, 2),
        ("alice", 1, 5),
        ("Bob", 1, 3),
        ("erin", 0, 1),
    ]


async def test_the_leaderboard_with_the_computer_includes_it(storage: Storage) -> None:
    await league(storage)
    assert scores(await storage.leaderboard(4, include_computer=True)) == [
        (COMPUTER, 2, 5),
        ("dave", 2, 2),
        ("alice", 1, 5),
        ("Bob", 1, 3),
    ]


async def test_each_leader_carries_the_players_id_and_registration_time(
    storage: Storage,
) -> None:
    await league(storage)
    leaders = await storage.leaderboard(10, include_computer=True)
    records = [await storage.player(leader.name) for leader in leaders]
    assert [(leader.id, leader.name, leader.created) for leader in leaders] == [
        (r.id, r.name, r.created) for r in records if r is not None
    ]


async def test_the_leaderboard_stops_at_the_limit(storage: Storage) -> None:
    await league(storage)
    assert [leader.name for leader in await storage.leaderboard(2)] == ["dave", "alice"]


# -- listing games -----------------------------------------------------------------------------


async def history(storage: Storage) -> list[Table]:
    """Seven games; g3 and g4 start at the same millisecond; g2 and g5 are finished, each before
    a seat of it plays again (a player holds one live game at a time)."""
    await register(storage, "Alice", "bob", "carol", "dave", "erin", "fred", "gail")
    starts = {"g1": 1, "g2": 2, "g3": 3, "g4": 3, "g5": 5, "g6": 6, "g7": 7}
    seats = [
        ("bob", COMPUTER),
        ("carol", "Alice"),
        ("carol", COMPUTER),
        ("dave", "erin"),
        ("Alice", COMPUTER),
        ("fred", "Alice"),
        ("gail", COMPUTER),
    ]
    resigns = {"g2": "carol", "g5": "Alice"}
    tables = []
    for (id, start), players in zip(starts.items(), seats, strict=True):
        tables.append(await Table.start(storage, players, id=id, now=T0 + start * 1000))
        if id in resigns:
            await tables[-1].resign(resigns[id])
    return tables


async def all_pages(storage: Storage, limit: int, **filters: str | None) -> list[list[str]]:
    """Every page of ``games`` as lists of ids, following the cursors."""
    pages: list[list[str]] = []
    before = None
    while True:
        page = await storage.games(
            player=filters.get("player"),
            status=filters.get("status"),
            limit=limit,
            before=before,
        )
        pages.append([g.id for g in page.games])
        if page.next is None:
            return pages
        before = page.next


async def test_games_are_paged_newest_first_with_a_cursor(storage: Storage) -> None:
    await history(storage)
    assert await all_pages(storage, 3) == [["g7", "g6", "g5"], ["g4", "g3", "g2"], ["g1"]]


async def test_the_last_full_page_has_no_next_cursor(storage: Storage) -> None:
    await history(storage)
    assert await all_pages(storage, 7) == [["g7", "g6", "g5", "g4", "g3", "g2", "g1"]]


async def test_listed_games_are_whole_games(storage: Storage) -> None:
    tables = await history(storage)
    page = await storage.games(player=None, status="finished", limit=1, before=None)
    assert_same_game(page.games[0], tables[4].game)


async def test_games_are_filtered_by_status(storage: Storage) -> None:
    await history(storage)
    assert await all_pages(storage, 2, status="finished") == [["g5", "g2"]]
    assert await all_pages(storage, 2, status="playing") == [["g7", "g6"], ["g4", "g3"], ["g1"]]


async def test_games_are_filtered_by_either_seat_ignoring_case(storage: Storage) -> None:
    await history(storage)
    assert await all_pages(storage, 2, player="ALICE") == [["g6", "g5"], ["g2"]]
    assert await all_pages(storage, 5, player="carol", status="playing") == [["g3"]]
    assert await all_pages(storage, 5, player="CAROL", status="finished") == [["g2"]]


async def test_games_of_a_player_without_games_are_an_empty_page(storage: Storage) -> None:
    await history(storage)
    page = await storage.games(player="nobody", status=None, limit=5, before=None)
    assert (page.games, page.next) == ([], None)


@pytest.mark.parametrize("key", ["a\x00b", "a\ud800b", "\x00"])
async def test_a_key_no_row_can_hold_is_found_nowhere(storage: Storage, key: str) -> None:
    await register(storage, "Alice")
    await Table.start(storage, ("Alice", COMPUTER))
    assert await storage.player(key) is None
    assert await storage.player_by_token(key) is None
    assert await storage.player_stats(key) == PlayerStats(0, 0, 0, 0, 0, 0)
    assert await storage.game(key) is None
    assert await storage.events(key, 0) == []
    assert await storage.last_seq(key) == 0
    page = await storage.games(player=key, status=None, limit=5, before=None)
    assert (page.games, page.next) == ([], None)


@pytest.mark.parametrize("game_id", ["a\x00b", "\x00"])
async def test_a_cursor_naming_an_id_no_row_can_hold_is_a_bad_cursor(
    storage: Storage, game_id: str
) -> None:
    with pytest.raises(BadCursor):
        await storage.games(player=None, status=None, limit=5, before=encode_cursor(T0, game_id))


@pytest.mark.parametrize("cursor", ["", "x", "!!!!", "bm9jb2xvbg", "MTIzNDU", "YWJjOmRlZg"])
async def test_a_malformed_cursor_is_a_bad_cursor(storage: Storage, cursor: str) -> None:
    with pytest.raises(BadCursor) as info:
        await storage.games(player=None, status=None, limit=5, before=cursor)
    assert info.value.code == "bad_request"
