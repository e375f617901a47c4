"""What only the SQLite backend does: URLs and paths, refusing files it cannot use, its pragmas."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from protocol.game import COMPUTER, Effect, Game
from protocol.ratings import NEW
from protocol.rules import builtin_rules
from protocol.wire import effect_event
from storage import sql
from storage.base import StorageError, StoredEvent
from storage.open import open_storage, sqlite_path
from storage.sqlite import MIGRATIONS, SQLiteStorage
from tests.storage.legacy_rows import LEGACY_ID, OTHER_ID, first_schema_row


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("hub.db", "hub.db"),
        ("data/hub.db", "data/hub.db"),
        ("/abs/x.db", "/abs/x.db"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:///sub/dir.db", "sub/dir.db"),
        ("sqlite:////abs/x.db", "/abs/x.db"),
        ("SQLite:////abs/x.db", "/abs/x.db"),
        ("sqlite://", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_path_reads_paths_and_sqlalchemy_urls(url: str, path: str) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize("url", ["mysql://host/db", "sqlite://host/x.db"])
def test_sqlite_path_refuses_other_urls_in_one_line(url: str) -> None:
    with pytest.raises(StorageError) as info:
        sqlite_path(url)
    assert "\n" not in str(info.value)


async def test_opening_in_a_missing_directory_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "hub.db"
    with pytest.raises(StorageError) as info:
        await SQLiteStorage.open(str(path))
    assert str(info.value) == (
        f"cannot open database {path}: directory {path.parent} does not exist; create it first"
    )


async def test_opening_a_directory_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        await SQLiteStorage.open(str(tmp_path))
    assert (
        str(info.value) == f"cannot open database {tmp_path}: it is a directory; name a file in it"
    )


async def test_opening_a_file_that_is_not_a_database_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the tables you are looking for\n" * 100)
    with pytest.raises(StorageError) as info:
        await SQLiteStorage.open(str(path))
    assert str(info.value).startswith(f"cannot open database {path}: ")
    assert "\n" not in str(info.value)


async def test_a_schema_newer_than_this_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StorageError) as info:
        await SQLiteStorage.open(str(path))
    assert "upgrade rps-hub" in str(info.value)


async def test_a_new_file_is_in_wal_mode_at_the_latest_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    storage = await SQLiteStorage.open(str(path))
    await storage.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    finally:
        db.close()


async def test_opening_again_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    for _ in range(2):
        storage = await SQLiteStorage.open(str(path))
        await storage.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT COUNT(*) FROM players").fetchone() == (1,)
    finally:
        db.close()


async def test_open_storage_opens_a_sqlite_url(tmp_path: Path) -> None:
    storage = await open_storage(f"sqlite:///{tmp_path}/hub.db")
    try:
        assert await storage.player("computer") is not None
    finally:
        await storage.close()
    assert (tmp_path / "hub.db").is_file()


async def test_an_in_memory_database_works() -> None:
    storage = await open_storage("sqlite://")
    try:
        assert await storage.player("computer") is not None
    finally:
        await storage.close()


async def test_migrating_a_first_schema_file_gives_live_legacy_games_the_idle_limit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hub.db"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        for game_id in (LEGACY_ID, OTHER_ID):
            row = first_schema_row(game_id)
            db.execute(
                f"INSERT INTO games ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})",
                row,
            )
    finally:
        db.close()
    storage = await SQLiteStorage.open(str(path))
    try:
        legacy, other = await storage.game(LEGACY_ID), await storage.game(OTHER_ID)
    finally:
        await storage.close()
    assert legacy is not None and other is not None
    assert (legacy.idle_seconds, legacy.idle_until) == (600, None)
    assert (other.idle_seconds, other.idle_until) == (0, None)
    assert (legacy.level, legacy.rating_change) == ("random", None)


async def test_migrating_a_second_schema_file_moves_each_token_into_tokens(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for statements in MIGRATIONS[:2]:
            for statement in statements:
                db.execute(statement)
        db.execute("PRAGMA user_version = 2")
        db.execute(
            "INSERT INTO players (name, name_key, token_hash, created) VALUES"
            " ('Ann', 'ann', 'hash-ann', 1), ('Dana', 'dana', NULL, 2)"
        )
    finally:
        db.close()
    storage = await SQLiteStorage.open(str(path))
    try:
        ann = await storage.player_by_token("hash-ann")
        dana = await storage.player("dana")
        computer = await storage.player("computer")
    finally:
        await storage.close()
    assert ann is not None and (ann.name, ann.has_token) == ("Ann", True)
    assert (ann.rating, ann.rated) == (NEW, 0)  # ratings came with a later migration
    assert dana is not None and dana.has_token is False
    assert computer is not None and computer.has_token is False


def stored_events(effects: list[Effect], first: int, ts: int) -> list[StoredEvent]:
    """A change's effects as the events the hub stores, numbered from ``first``."""
    return [
        StoredEvent(seq, ts, *effect_event(effect)) for seq, effect in enumerate(effects, first)
    ]


async def test_migrating_a_seventh_schema_file_keeps_every_round_and_event(tmp_path: Path) -> None:
    """Migration 8 moves the rounds and events into tables of their own order: a game stored
    before it reads back whole, replays in order, and goes on (a round or an event stored again
    is still skipped or refused)."""
    path = tmp_path / "hub.db"
    game, started = Game.start(
        id="g7", rules=builtin_rules()["rps3"], best_of=5, players=("ann", COMPUTER),
        now=1_000, rng=random.Random(7), epoch="e", round_seconds=0,
    )  # fmt: skip
    events = stored_events(started, 1, 1_000)
    for n in (1, 2):
        _, moved = game.move("ann", "Rock", n, now=1_000 + n, rng=random.Random(n))
        events += stored_events(moved, len(events) + 1, 1_000 + n)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for statements in MIGRATIONS[:7]:
            for statement in statements:
                db.execute(statement)
        db.execute("PRAGMA user_version = 7")
        row = sql.game_row(game, events)
        db.execute(
            f"INSERT INTO games ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})", row
        )
        db.executemany(
            "INSERT INTO rounds VALUES (?, ?, ?, ?, ?, ?, ?)", sql.round_rows(game, game.rounds)
        )
        db.executemany(  # one row an event, as versions before migration 9 wrote them
            "INSERT INTO game_events VALUES (?, ?, ?, ?, ?)",
            [("g7", e.seq, e.ts, e.event, e.text) for e in events],
        )
    finally:
        db.close()
    storage = await SQLiteStorage.open(str(path))
    try:
        stored = await storage.game("g7")
        replayed = await storage.events("g7", 0)
        assert stored is not None and stored.rounds == game.rounds
        assert [(e.seq, e.event, e.data) for e in replayed] == [
            (e.seq, e.event, e.data) for e in events
        ]
        assert await storage.last_seq("g7") == len(events)
        _, moved = game.move("ann", "Paper", 3, now=2_000, rng=random.Random(3))
        more = stored_events(moved, len(events) + 1, 2_000)
        await storage.save_game(game, more)  # every round sent again: the stored ones skipped
        assert [e.seq for e in await storage.events("g7", len(events))] == [e.seq for e in more]
        assert (await storage.game("g7")).rounds == game.rounds  # type: ignore[union-attr]
    finally:
        await storage.close()
    db = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("INSERT INTO game_events VALUES ('g7', 1, 0, 'moved', '{}')")
    finally:
        db.close()


async def test_a_moves_events_take_one_row_and_rows_of_one_event_still_read(
    tmp_path: Path,
) -> None:
    """The events a change makes at one time are stored as one ``game_events`` row (its first
    seq, the names joined by commas, the texts by line breaks): a move against the computer adds
    one row, not three.  Rows of one event each (what versions before migration 9 wrote) read
    back beside them."""
    path = tmp_path / "hub.db"
    storage = await SQLiteStorage.open(str(path))
    try:
        await storage.create_player("ann", "token-hash", 1_000)
        game, started = Game.start(
            id="g10", rules=builtin_rules()["rps3"], best_of=5, players=("ann", COMPUTER),
            now=1_000, rng=random.Random(10), epoch="e", round_seconds=0,
        )  # fmt: skip
        events = stored_events(started, 1, 1_000)
        await storage.create_game(game, events)
        _, moved = game.move("ann", "Rock", None, now=2_000, rng=random.Random(1))
        more = stored_events(moved, len(events) + 1, 2_000)
        assert [e.event for e in more] == ["moved", "round", "round_open"]
        await storage.save_game(game, more)
    finally:
        await storage.close()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        rows = db.execute(
            "SELECT seq, event, data FROM game_events WHERE game_id = 'g10' ORDER BY seq"
        ).fetchall()
        assert rows[-1] == (more[0].seq, "moved,round,round_open", "\n".join(e.text for e in more))
        assert len(rows) == 2
        # A row of one event, as an older version wrote it, after the packed ones.
        _, later = game.move("ann", "Paper", None, now=3_000, rng=random.Random(2))
        last = stored_events(later, more[-1].seq + 1, 3_000)
        db.executemany(
            "INSERT INTO game_events VALUES (?, ?, ?, ?, ?)",
            [("g10", e.seq, e.ts, e.event, e.text) for e in last],
        )
        db.execute("UPDATE games SET seq = ? WHERE id = 'g10'", (last[-1].seq,))
    finally:
        db.close()
    storage = await SQLiteStorage.open(str(path))
    try:
        every = events + more + last
        for after in range(len(every) + 1):
            replayed = await storage.events("g10", after)
            assert [(e.seq, e.ts, e.event, e.data, e.text) for e in replayed] == [
                (e.seq, e.ts, e.event, e.data, e.text) for e in every[after:]
            ], after
    finally:
        await storage.close()
