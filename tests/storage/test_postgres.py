"""What only the PostgreSQL backend does: URLs, open errors, migrations.

Everything the backends share is in the ``test_contract_*.py`` files; saves from two hubs, batches
and timeouts are in ``test_postgres_hubs.py``.  These tests need the real server too.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from protocol.game import COMPUTER
from protocol.ratings import NEW
from storage.base import NameTaken, StorageError
from storage.open import COMMAND_TIMEOUT, command_timeout, open_storage, postgres_dsn
from storage.postgres import MIGRATIONS, PostgresStorage
from tests.postgres import SERVER, fresh_schema, schema_url
from tests.storage.contract import T0
from tests.storage.legacy_rows import LEGACY_ID, OTHER_ID, first_schema_row

# -- URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "dsn", "schema"),
    [
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db", None),
        ("postgres://u:pw@h/db", "postgres://u:pw@h/db", None),
        ("POSTGRESQL://h/db?schema=hub", "POSTGRESQL://h/db", "hub"),
        (
            "postgresql://h/db?sslmode=disable&schema=t_1",
            "postgresql://h/db?sslmode=disable",
            "t_1",
        ),
        ("postgresql:///db?host=/run/postgresql", "postgresql:///db?host=/run/postgresql", None),
        ("postgresql:///db?schema=s&host=%2Frun", "postgresql:///db?host=%2Frun", "s"),
    ],
)
def test_a_url_gives_the_dsn_for_asyncpg_and_the_schema_apart(
    url: str, dsn: str, schema: str | None
) -> None:
    assert postgres_dsn(url) == (dsn, schema)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://h/db?schema=has-dash",
        "postgresql://h/db?schema=1st",
        "postgresql://h/db?schema=",
        'postgresql://h/db?schema=a"b',
        "postgresql://h/db?schema=a&schema=b",
        "mysql://h/db",
    ],
)
def test_a_bad_url_is_refused_in_one_line(url: str) -> None:
    with pytest.raises(StorageError) as info:
        postgres_dsn(url)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "PostgreSQL"])
async def test_open_storage_opens_postgresql_urls_with_this_backend(
    schema: str, scheme: str
) -> None:
    url = schema_url(schema).replace("postgresql", scheme, 1)
    storage = await open_storage(url)
    try:
        assert isinstance(storage, PostgresStorage)
        assert await storage.player("computer") is not None
    finally:
        await storage.close()


async def test_each_schema_holds_its_own_data(schema: str) -> None:
    async with fresh_schema() as other:
        first = await PostgresStorage.open(schema_url(schema))
        second = await PostgresStorage.open(SERVER, schema=other)
        try:
            await first.create_player("Alice", "h1", T0)
            assert await second.player("Alice") is None
            await second.create_player("Alice", "h2", T0)
            assert await first.player_by_token("h2") is None
        finally:
            await first.close()
            await second.close()


# -- opening -----------------------------------------------------------------------------------


async def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    url = "postgresql://postgres:s3cret@127.0.0.1:1/test"
    with pytest.raises(StorageError) as info:
        await open_storage(url)
    message = str(info.value)
    assert message.startswith("cannot open database postgresql://postgres:***@127.0.0.1:1/test: ")
    assert "cannot reach the server" in message
    assert "\n" not in message and "s3cret" not in message
    assert info.value.code == "unavailable"


async def test_a_database_that_does_not_exist_is_one_line() -> None:
    url = SERVER.rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(StorageError) as info:
        await open_storage(url)
    assert str(info.value).endswith('database "no_such_database_here" does not exist')
    assert "\n" not in str(info.value)


async def test_a_refused_login_is_one_line() -> None:
    url = SERVER.replace("postgres@", "no_such_role@", 1)
    with pytest.raises(StorageError) as info:
        await open_storage(url)
    assert 'role "no_such_role" does not exist' in str(info.value)
    assert "\n" not in str(info.value)


# -- migrations --------------------------------------------------------------------------------


async def versions(db: asyncpg.Connection, schema: str) -> list[int]:
    """The migrations recorded in ``schema``."""
    rows = await db.fetch(f'SELECT version FROM "{schema}".schema_migrations ORDER BY version')
    return [row["version"] for row in rows]


async def test_opening_again_migrates_nothing_and_keeps_the_data(
    schema: str, db: asyncpg.Connection
) -> None:
    first = await PostgresStorage.open(schema_url(schema))
    alice = await first.create_player("Alice", "h1", T0)
    await first.close()
    again = await PostgresStorage.open(schema_url(schema))
    try:
        assert await again.player("alice") == alice
    finally:
        await again.close()
    assert await versions(db, schema) == list(range(1, len(MIGRATIONS) + 1))


async def test_hubs_opening_a_missing_schema_at_once_create_and_migrate_it_once(
    schema: str, db: asyncpg.Connection
) -> None:
    await db.execute(f'DROP SCHEMA "{schema}" CASCADE')
    opened = await asyncio.gather(*(PostgresStorage.open(SERVER, schema=schema) for _ in range(5)))
    try:
        assert await versions(db, schema) == list(range(1, len(MIGRATIONS) + 1))
        computers = await db.fetchval(
            f'SELECT COUNT(*) FROM "{schema}".players WHERE name_key = $1', COMPUTER
        )
        assert computers == 1
        await opened[0].create_player("Alice", "h1", T0)
        with pytest.raises(NameTaken):
            await opened[4].create_player("ALICE", "h2", T0)
    finally:
        for storage in opened:
            await storage.close()


async def test_a_schema_newer_than_this_hub_is_refused_in_one_line(
    schema: str, db: asyncpg.Connection
) -> None:
    await (await PostgresStorage.open(schema_url(schema))).close()
    newer = len(MIGRATIONS) + 1
    await db.execute(f'INSERT INTO "{schema}".schema_migrations VALUES ($1, 0)', newer)
    with pytest.raises(StorageError) as info:
        await PostgresStorage.open(schema_url(schema))
    assert f"schema version {newer} is newer" in str(info.value)
    assert "\n" not in str(info.value)


async def test_migrating_a_first_schema_gives_live_legacy_games_the_idle_limit(
    schema: str, db: asyncpg.Connection
) -> None:
    async with db.transaction():
        await db.execute(f'SET LOCAL search_path TO "{schema}"')
        for statement in MIGRATIONS[0]:
            await db.execute(statement)
        await db.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)"
        )
        await db.execute("INSERT INTO schema_migrations VALUES (1, 0)")
        for game_id in (LEGACY_ID, OTHER_ID):
            row = first_schema_row(game_id)
            places = ", ".join(f"${n}" for n in range(1, len(row) + 1))
            await db.execute(
                f"INSERT INTO games ({', '.join(row)}) VALUES ({places})", *row.values()
            )
    storage = await PostgresStorage.open(schema_url(schema))
    try:
        legacy, other = await storage.game(LEGACY_ID), await storage.game(OTHER_ID)
    finally:
        await storage.close()
    assert legacy is not None and other is not None
    assert (legacy.idle_seconds, legacy.idle_until) == (600, None)
    assert (other.idle_seconds, other.idle_until) == (0, None)
    assert (legacy.level, legacy.rating_change) == ("random", None)
    assert await versions(db, schema) == list(range(1, len(MIGRATIONS) + 1))


# -- timeouts and cancellation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "seconds"),
    [
        ("postgresql://h/db", COMMAND_TIMEOUT),
        ("postgresql://h/db?command_timeout=2.5", 2.5),
        ("postgresql://h/db?schema=s&command_timeout=30", 30.0),
    ],
)
def test_the_command_timeout_is_the_default_or_the_urls(url: str, seconds: float) -> None:
    assert command_timeout(url) == seconds


def test_the_command_timeout_parameter_does_not_reach_asyncpg_as_a_setting() -> None:
    dsn = "postgresql://h/db?sslmode=disable"
    assert postgres_dsn("postgresql://h/db?command_timeout=3&sslmode=disable") == (dsn, None)


@pytest.mark.parametrize("value", ["", "abc", "0", "-1", "inf", "nan", "1&command_timeout=2"])
def test_a_bad_command_timeout_is_refused_in_one_line(value: str) -> None:
    with pytest.raises(StorageError) as info:
        command_timeout(f"postgresql://h/db?command_timeout={value}")
    assert "command_timeout" in str(info.value)
    assert "\n" not in str(info.value)


async def test_migrating_a_second_schema_moves_each_token_into_tokens(
    schema: str, db: asyncpg.Connection
) -> None:
    async with db.transaction():
        await db.execute(f'SET LOCAL search_path TO "{schema}"')
        for statements in MIGRATIONS[:2]:
            for statement in statements:
                await db.execute(statement)
        await db.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)"
        )
        await db.execute("INSERT INTO schema_migrations VALUES (1, 0), (2, 0)")
        await db.execute(
            "INSERT INTO players (name, name_key, token_hash, created) VALUES"
            " ('Ann', 'ann', 'hash-ann', 1), ('Dana', 'dana', NULL, 2)"
        )
    storage = await PostgresStorage.open(schema_url(schema))
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
    assert await versions(db, schema) == list(range(1, len(MIGRATIONS) + 1))
