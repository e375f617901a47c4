"""The storage contract: what every backend must do, run against each one in ``BACKENDS``."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import attrs
import pytest

from protocol.game import COMPUTER, MAX_ROUNDS, Effect, Game, Reason, Status
from protocol.rules import RuleSet, builtin_rules
from protocol.wire import effect_event
from storage.base import (
    BadCursor,
    Leader,
    NameTaken,
    PlayerStats,
    Storage,
    StorageError,
    StoredEvent,
)
from storage.sql import encode_cursor

RPS3 = builtin_rules()["rps3"]
RPS15 = builtin_rules()["rps15"]
T0 = 1_700_000_000_000


@attrs.define
class Table:
    """Drives one game the way the hub does: each transition is saved with the events it made."""

    storage: Storage
    game: Game
    rng: random.Random
    now: int
    seq: int = 0

    @classmethod
    async def start(
        cls,
        storage: Storage,
        players: tuple[str, str],
        *,
        id: str = "g1",
        rules: RuleSet = RPS3,
        best_of: int = 3,
        round_seconds: float = 0.0,
        now: int = T0,
        seed: int = 1,
    ) -> Table:
        """Start a game and create it in storage with its first events."""
        rng = random.Random(seed)
        game, effects = Game.start(
            id=id,
            rules=rules,
            best_of=best_of,
            players=players,
            now=now,
            rng=rng,
            epoch=f"epoch-{id}",
            round_seconds=round_seconds,
        )
        table = cls(storage, game, rng, now)
        await storage.create_game(game, table.events(effects))
        return table

    def events(self, effects: list[Effect]) -> list[StoredEvent]:
        """The game-topic events of ``effects``, numbered after the last ones."""
        out = []
        for effect in effects:
            self.seq += 1
            name, data = effect_event(effect)
            out.append(StoredEvent(seq=self.seq, ts=self.now, event=name, data=data))
        return out

    async def move(self, player: str, roll: str) -> None:
        """``player`` plays ``roll`` in the open round, one second later."""
        self.now += 1000
        _, effects = self.game.move(player, roll, None, now=self.now, rng=self.rng)
        await self.storage.save_game(self.game, self.events(effects))

    async def round(self, a: str, b: str) -> None:
        """Both human seats move (``a`` for the first seat, ``b`` for the second)."""
        first, second = self.game.players
        await self.move(first, a)
        await self.move(second, b)

    async def win(self) -> None:
        """The human in the first seat beats the computer's committed roll."""
        assert self.game.secret is not None
        await self.move(self.game.players[0], beater(self.game.rules, self.game.secret.roll))

    async def lose(self) -> None:
        """The human in the first seat loses to the computer's committed roll."""
        assert self.game.secret is not None
        await self.move(self.game.players[0], beaten(self.game.rules, self.game.secret.roll))

    async def expire(self) -> None:
        """The open round's deadline passes."""
        assert self.game.deadline is not None
        self.now = self.game.deadline
        effects = self.game.expire(self.game.round, now=self.now, rng=self.rng)
        await self.storage.save_game(self.game, self.events(effects))

    async def resign(self, player: str) -> None:
        """``player`` gives up."""
        self.now += 1000
        await self.storage.save_game(self.game, self.events(self.game.resign(player, now=self.now)))


def beater(rules: RuleSet, roll: str) -> str:
    """A roll that beats ``roll``."""
    return next(r for r in rules.rolls if rules.outcome(r, roll) == 1)


def beaten(rules: RuleSet, roll: str) -> str:
    """A roll that loses to ``roll``."""
    return next(r for r in rules.rolls if rules.outcome(r, roll) == -1)


def assert_same_game(loaded: Game | None, game: Game) -> None:
    """Every field of ``loaded`` equals the one of ``game``, naming the first that differs."""
    assert loaded is not None
    for f in attrs.fields(Game):
        assert getattr(loaded, f.name) == getattr(game, f.name), f.name
    assert loaded == game


async def register(storage: Storage, *names: str) -> None:
    """Register players with a token hash derived from the name."""
    for i, name in enumerate(names):
        await storage.create_player(name, f"hash-{name}", T0 + i)


# -- players -----------------------------------------------------------------------------------


async def test_a_registered_player_is_found_ignoring_case_in_the_registered_spelling(
    storage: Storage,
) -> None:
    created = await storage.create_player("Alice_1", "h1", T0)
    found = await storage.player("aLICE_1")
    assert found == created
    assert found is not None and (found.name, found.created) == ("Alice_1", T0)


async def test_an_unknown_player_is_none(storage: Storage) -> None:
    assert await storage.player("nobody") is None


@pytest.mark.parametrize("again", ["Alice", "alice", "ALICE"])
async def test_a_name_taken_in_any_case_is_refused(storage: Storage, again: str) -> None:
    await storage.create_player("Alice", "h1", T0)
    with pytest.raises(NameTaken) as info:
        await storage.create_player(again, "h2", T0)
    assert info.value.code == "conflict"


@pytest.mark.parametrize("name", ["computer", "Computer", "COMPUTER"])
async def test_the_computer_name_is_taken_from_the_start(storage: Storage, name: str) -> None:
    with pytest.raises(NameTaken):
        await storage.create_player(name, "h1", T0)


async def test_the_computer_is_a_player_without_a_token(storage: Storage) -> None:
    computer = await storage.player("Computer")
    assert computer is not None and computer.name == COMPUTER


async def test_a_refused_name_leaves_the_first_player_and_token_intact(storage: Storage) -> None:
    first = await storage.create_player("Alice", "h1", T0)
    with pytest.raises(NameTaken):
        await storage.create_player("alice", "h2", T0)
    assert await storage.player_by_token("h1") == first
    assert await storage.player_by_token("h2") is None


async def test_a_player_is_found_by_token_hash(storage: Storage) -> None:
    await register(storage, "Alice", "bob")
    found = await storage.player_by_token("hash-bob")
    assert found is not None and found.name == "bob"
    assert await storage.player_by_token("hash-nobody") is None


async def test_a_player_registered_without_a_token_holds_none(storage: Storage) -> None:
    await register(storage, "Alice")
    legacy = await storage.create_player("Dana", None, T0)
    assert legacy.has_token is False
    assert await storage.player("dana") == legacy
    alice = await storage.player("alice")
    assert alice is not None and alice.has_token is True


async def test_many_players_without_a_token_can_be_registered(storage: Storage) -> None:
    for name in ("Dana", "Eve", "Finn"):
        await storage.create_player(name, None, T0)
    assert [p.name for p in await storage.players(10, None)] == ["Dana", "Eve", "Finn"]


@pytest.mark.parametrize("token_hash", ["", "None", "null"])
async def test_no_token_hash_finds_a_player_without_a_token(
    storage: Storage, token_hash: str
) -> None:
    await storage.create_player("Dana", None, T0)
    assert await storage.player_by_token(token_hash) is None


async def test_players_are_listed_by_name_ignoring_case_in_pages_without_the_computer(
    storage: Storage,
) -> None:
    await register(storage, "dave", "Alice", "erin", "bob", "Carol")
    first = await storage.players(2, None)
    second = await storage.players(2, first[-1].name.casefold())
    third = await storage.players(2, second[-1].name.casefold())
    assert [[p.name for p in page] for page in (first, second, third)] == [
        ["Alice", "bob"],
        ["Carol", "dave"],
        ["erin"],
    ]
    assert await storage.players(2, "erin") == []


async def test_concurrent_units_of_work_all_commit(storage: Storage) -> None:
    names = [f"p{i:02}" for i in range(30)]
    await asyncio.gather(*(storage.create_player(n, f"h{n}", T0) for n in names))
    assert [p.name for p in await storage.players(100, None)] == names


# -- games -------------------------------------------------------------------------------------


async def test_a_game_against_the_computer_reloads_mid_game_with_its_secret(
    storage: Storage,
) -> None:
    await register(storage, "Alice")
    table = await Table.start(
        storage, ("Alice", COMPUTER), rules=RPS15, best_of=5, round_seconds=30, seed=7
    )
    await table.win()
    await table.lose()
    game = table.game
    assert game.round == 3 and game.secret is not None and game.deadline is not None
    assert_same_game(await storage.game("g1"), game)


async def test_a_game_between_players_reloads_with_the_open_rounds_pending_move(
    storage: Storage,
) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"), best_of=5, round_seconds=10)
    await table.round("Rock", "Scissors")
    await table.round("Paper", "Paper")
    await table.move("bob", "Rock")
    game = table.game
    assert game.pending == {"bob": "Rock"} and game.secret is None
    assert_same_game(await storage.game("g1"), game)


async def test_a_round_missed_on_the_deadline_reloads_with_a_null_move(storage: Storage) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"), best_of=1, round_seconds=5)
    await table.move("Alice", "Rock")
    await table.expire()
    loaded = await storage.game("g1")
    assert loaded is not None
    assert loaded.rounds[0].moves == {"Alice": "Rock", "bob": None}
    assert (loaded.status, loaded.reason, loaded.winner) == (
        Status.FINISHED,
        Reason.TIMEOUT,
        "Alice",
    )
    assert_same_game(loaded, table.game)


async def test_a_finished_game_reloads_with_every_round_and_commitment(storage: Storage) -> None:
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER), best_of=3, seed=3)
    await table.lose()
    await table.win()
    await table.win()
    loaded = await storage.game("g1")
    assert loaded is not None and loaded.is_over and loaded.winner == "Alice"
    assert all(r.commitment and r.nonce for r in loaded.rounds)
    assert_same_game(loaded, table.game)


async def test_a_game_with_an_idle_limit_reloads_with_it(storage: Storage) -> None:
    await register(storage, "Alice")
    game, _ = Game.start(
        id="g1",
        rules=RPS15,
        best_of=5,
        players=("Alice", COMPUTER),
        now=T0,
        rng=random.Random(2),
        epoch="e",
        idle_seconds=600,
    )
    await storage.create_game(game, [])
    assert game.idle_until == T0 + 600_000
    assert_same_game(await storage.game("g1"), game)


async def test_an_unknown_game_is_none(storage: Storage) -> None:
    assert await storage.game("nope") is None


async def test_live_games_are_the_playing_ones_oldest_first(storage: Storage) -> None:
    await register(storage, "Alice", "bob", "carol")
    newer = await Table.start(storage, ("bob", COMPUTER), id="b", now=T0 + 50)
    done = await Table.start(storage, ("carol", COMPUTER), id="c", now=T0)
    older = await Table.start(storage, ("Alice", "carol"), id="a", now=T0 + 10)
    await done.resign("carol")
    live = await storage.live_games()
    assert [g.id for g in live] == ["a", "b"]
    assert_same_game(live[0], older.game)
    assert_same_game(live[1], newer.game)


async def test_events_are_stored_in_order_and_replayed_after_a_seq(storage: Storage) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"), best_of=1)
    await table.move("Alice", "Rock")
    await table.move("bob", "Paper")
    stored = await storage.events("g1", 0)
    assert [e.seq for e in stored] == list(range(1, table.seq + 1))
    assert stored[0].event == "round_open"
    assert [e.event for e in stored][-2:] == ["round", "game_over"]
    assert stored[-2].data["moves"] == {"Alice": "Rock", "bob": "Paper"}
    assert await storage.events("g1", 2) == stored[2:]
    assert await storage.events("g1", table.seq) == []


async def test_last_seq_follows_the_saved_events(storage: Storage) -> None:
    await register(storage, "Alice")
    assert await storage.last_seq("g1") == 0
    table = await Table.start(storage, ("Alice", COMPUTER))
    assert await storage.last_seq("g1") == 1
    await table.win()
    assert await storage.last_seq("g1") == table.seq > 1


async def test_a_save_without_events_keeps_the_last_seq(storage: Storage) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"))
    table.game.move("Alice", "Rock", None, now=T0, rng=table.rng)
    await storage.save_game(table.game, [])
    assert await storage.last_seq("g1") == 1
    assert_same_game(await storage.game("g1"), table.game)


async def test_a_failed_save_leaves_nothing_half_written(storage: Storage) -> None:
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER), best_of=3)
    before = await storage.game("g1")
    assert before is not None
    events_before = await storage.events("g1", 0)
    _, effects = table.game.move("Alice", "Rock", None, now=T0 + 1, rng=table.rng)
    events = table.events(effects)
    duplicate = [attrs.evolve(events[0], seq=1), *events[1:]]
    with pytest.raises(StorageError):
        await storage.save_game(table.game, duplicate)
    assert_same_game(await storage.game("g1"), before)
    assert await storage.events("g1", 0) == events_before
    assert await storage.last_seq("g1") == 1


async def test_a_gap_in_event_seqs_is_refused(storage: Storage) -> None:
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER))
    _, effects = table.game.move("Alice", "Rock", None, now=T0 + 1, rng=table.rng)
    events = table.events(effects)
    with pytest.raises(StorageError):
        await storage.save_game(table.game, [attrs.evolve(e, seq=e.seq + 1) for e in events])
    assert await storage.last_seq("g1") == 1


async def test_saving_a_game_that_was_never_created_is_a_storage_error(storage: Storage) -> None:
    game, _ = Game.start(
        id="ghost",
        rules=RPS3,
        best_of=3,
        players=("Alice", COMPUTER),
        now=T0,
        rng=random.Random(0),
        epoch="e",
    )
    with pytest.raises(StorageError):
        await storage.save_game(game, [])
    assert await storage.game("ghost") is None


async def test_creating_a_game_twice_is_a_storage_error(storage: Storage) -> None:
    await register(storage, "Alice")
    table = await Table.start(storage, ("Alice", COMPUTER))
    with pytest.raises(StorageError):
        await storage.create_game(table.game, [])


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
    """Seven games; g3 and g4 start at the same millisecond; g2 and g5 are finished."""
    await register(storage, "Alice", "bob", "carol")
    starts = {"g1": 1, "g2": 2, "g3": 3, "g4": 3, "g5": 5, "g6": 6, "g7": 7}
    seats = [("Alice", COMPUTER), ("bob", "Alice"), ("carol", COMPUTER), ("Alice", "carol")]
    tables = []
    for i, (id, start) in enumerate(starts.items()):
        tables.append(
            await Table.start(storage, seats[i % len(seats)], id=id, now=T0 + start * 1000)
        )
    await tables[1].resign("bob")
    await tables[4].resign("Alice")
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
    assert await all_pages(storage, 2, player="ALICE") == [["g6", "g5"], ["g4", "g2"], ["g1"]]
    assert await all_pages(storage, 5, player="carol", status="playing") == [["g7", "g4", "g3"]]


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


# -- durability --------------------------------------------------------------------------------


async def test_data_survives_closing_and_opening_again(
    storage: Storage, reopen: Callable[[], Awaitable[Storage]]
) -> None:
    alice = await storage.create_player("Alice", "h1", T0)
    table = await Table.start(storage, ("Alice", COMPUTER), round_seconds=30)
    await table.win()
    events = await storage.events("g1", 0)
    await storage.close()
    reopened = await reopen()
    try:
        assert await reopened.player("alice") == alice
        assert await reopened.player_by_token("h1") == alice
        assert_same_game(await reopened.game("g1"), table.game)
        assert await reopened.events("g1", 0) == events
        assert await reopened.last_seq("g1") == table.seq
        assert [g.id for g in await reopened.live_games()] == ["g1"]
        with pytest.raises(NameTaken):
            await reopened.create_player("computer", "h2", T0)
    finally:
        await reopened.close()


async def test_closing_twice_is_harmless(storage: Storage) -> None:
    await storage.close()
    await storage.close()


async def test_a_closed_storage_refuses_work_with_a_storage_error(storage: Storage) -> None:
    await storage.close()
    with pytest.raises(StorageError):
        await storage.player("Alice")


@pytest.mark.parametrize("yields", range(12))
async def test_a_cancelled_save_is_all_or_nothing_and_storage_stays_usable(
    storage: Storage, yields: int
) -> None:
    await register(storage, "Alice", "bob")
    table = await Table.start(storage, ("Alice", "bob"), best_of=1)
    before = await storage.game("g1")
    assert before is not None
    table.game.move("Alice", "Rock", None, now=T0, rng=table.rng)
    _, effects = table.game.move("bob", "Paper", None, now=T0, rng=table.rng)
    task = asyncio.create_task(storage.save_game(table.game, table.events(effects)))
    # Cancel at a different await inside the unit of work in each run.
    for _ in range(yields):
        await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    loaded = await storage.game("g1")
    assert loaded in (before, table.game)
    assert await storage.last_seq("g1") == (1 if loaded == before else table.seq)
    await storage.create_player("carol", "h-carol", T0)
    assert await storage.player("CAROL") is not None
