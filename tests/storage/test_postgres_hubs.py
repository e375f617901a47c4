"""What only the PostgreSQL backend does with work in flight: two hubs on one database, batches
of saves behind a locked row, timeouts and cancellation.  These tests need the real server."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from protocol.game import COMPUTER
from storage.base import StorageError
from storage.postgres import POOL_SIZE, PostgresStorage
from tests.conftest import eventually
from tests.postgres import schema_url
from tests.storage.contract import T0, Table, against_the_computer, assert_same_game, register

# -- two hubs on one database ------------------------------------------------------------------


@pytest.fixture
async def two_hubs(schema: str) -> AsyncIterator[tuple[PostgresStorage, PostgresStorage]]:
    """Two storages on one schema, as two hub processes would have."""
    first = await PostgresStorage.open(schema_url(schema))
    second = await PostgresStorage.open(schema_url(schema))
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_concurrent_saves_of_one_game_from_two_hubs_keep_one_and_refuse_the_other(
    two_hubs: tuple[PostgresStorage, PostgresStorage],
) -> None:
    first, second = two_hubs
    await register(first, "Alice", "bob")
    table = await Table.start(first, ("Alice", "bob"), best_of=1)
    # Both hubs resolve the same round differently and save it with the same next seqs.
    branches = []
    for roll in ("Rock", "Paper"):
        game = copy.deepcopy(table.game)
        game.move("Alice", roll, None, now=T0 + 1, rng=table.rng)
        _, effects = game.move("bob", "Scissors", None, now=T0 + 2, rng=table.rng)
        branch = copy.copy(table)
        branch.game = game
        branches.append((game, branch.events(effects)))
    results = await asyncio.gather(
        first.save_game(*branches[0]),
        second.save_game(*branches[1]),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "StaleGame"]
    kept, events = branches[0] if results[0] is None else branches[1]
    assert_same_game(await first.game("g1"), kept)
    assert await second.events("g1", 1) == events
    assert await first.last_seq("g1") == events[-1].seq


async def test_a_save_waits_for_another_hubs_transaction_on_the_same_game(
    two_hubs: tuple[PostgresStorage, PostgresStorage], schema: str, db: asyncpg.Connection
) -> None:
    first, _ = two_hubs
    await register(first, "Alice")
    table = await Table.start(first, ("Alice", COMPUTER))
    _, effects = table.game.move("Alice", "Rock", None, now=T0 + 1, rng=table.rng)
    async with db.transaction():
        await db.execute(f'SELECT 1 FROM "{schema}".games WHERE id = $1 FOR UPDATE', "g1")
        save = asyncio.create_task(first.save_game(table.game, table.events(effects)))
        await asyncio.sleep(0.2)
        assert not save.done()
    await asyncio.wait_for(save, 5)
    assert_same_game(await first.game("g1"), table.game)


async def row_lock_waits(db: asyncpg.Connection) -> bool:
    """True once a session of the test server waits for a lock."""
    return bool(await db.fetchval("SELECT COUNT(*) FROM pg_locks WHERE NOT granted"))


async def test_reads_answer_and_saves_gather_while_a_batch_waits_for_a_locked_row(
    schema: str, db: asyncpg.Connection
) -> None:
    storage = await PostgresStorage.open(schema_url(schema))
    try:
        first, *rest = await against_the_computer(storage, 5)
        before = await storage.game(first.game.id)
        batches = storage.batches
        async with db.transaction():
            await db.execute(
                f'SELECT 1 FROM "{schema}".games WHERE id = $1 FOR UPDATE', first.game.id
            )
            blocked = asyncio.create_task(first.move(first.game.players[0], "Rock"))
            await eventually(lambda: row_lock_waits(db))
            queued = [asyncio.create_task(t.move(t.game.players[0], "Rock")) for t in rest]
            assert await storage.game(first.game.id) == before
            assert await storage.player("P000") is not None
            assert len(await storage.live_games()) == 5
            assert not blocked.done()  # the reads did not wait for it
        await asyncio.gather(blocked, *queued)
        assert storage.batches - batches == 2  # the four that came while one was in flight
        for t in (first, *rest):
            assert_same_game(await storage.game(t.game.id), t.game)
    finally:
        await storage.close()


async def test_close_waits_for_saves_behind_a_locked_row_and_commits_them(
    schema: str, db: asyncpg.Connection
) -> None:
    storage = await PostgresStorage.open(schema_url(schema))
    tables = await against_the_computer(storage, 4)
    async with db.transaction():
        await db.execute(
            f'SELECT 1 FROM "{schema}".games WHERE id = $1 FOR UPDATE', tables[0].game.id
        )
        saves = [asyncio.create_task(t.move(t.game.players[0], "Paper")) for t in tables]
        await eventually(lambda: row_lock_waits(db))
        closing = asyncio.create_task(storage.close())
        await asyncio.sleep(0)
        with pytest.raises(StorageError, match="closed"):
            await storage.player("p000")
        assert not closing.done()
    async with asyncio.timeout(60):  # a guard: close must return
        await closing
    assert await asyncio.gather(*saves) == [None] * 4
    again = await PostgresStorage.open(schema_url(schema))
    try:
        for t in tables:
            assert_same_game(await again.game(t.game.id), t.game)
    finally:
        await again.close()


async def test_a_batch_whose_connection_the_server_ends_fails_and_the_next_gets_a_new_one(
    schema: str, db: asyncpg.Connection
) -> None:
    storage = await PostgresStorage.open(schema_url(schema))
    try:
        a, b = await against_the_computer(storage, 2)
        before = await storage.game(a.game.id)
        async with db.transaction():
            await db.execute(f'SELECT 1 FROM "{schema}".games WHERE id = $1 FOR UPDATE', a.game.id)
            blocked = asyncio.create_task(a.move(a.game.players[0], "Rock"))
            await eventually(lambda: row_lock_waits(db))
            pid = await db.fetchval("SELECT pid FROM pg_locks WHERE NOT granted LIMIT 1")
            assert await db.fetchval("SELECT pg_terminate_backend($1)", pid)
            with pytest.raises(StorageError) as info:
                await blocked
        assert info.value.code == "unavailable"
        assert await storage.game(a.game.id) == before
        await b.move(b.game.players[0], "Rock")
        assert_same_game(await storage.game(b.game.id), b.game)
    finally:
        await storage.close()


async def test_many_games_saved_at_once_through_two_hubs_all_commit(
    two_hubs: tuple[PostgresStorage, PostgresStorage],
) -> None:
    first, second = two_hubs
    names = [f"p{i:02}" for i in range(12)]
    await register(first, *names)
    tables = await asyncio.gather(
        *(
            Table.start((first, second)[i % 2], (name, COMPUTER), id=f"g{i:02}", seed=i)
            for i, name in enumerate(names)
        )
    )
    await asyncio.gather(*(t.win() for t in tables))
    for t in tables:
        assert_same_game(await second.game(t.game.id), t.game)
        assert [e.seq for e in await first.events(t.game.id, 0)] == list(range(1, t.seq + 1))


# -- timeouts and cancellation -----------------------------------------------------------------


@pytest.fixture
async def locked(
    schema: str, db: asyncpg.Connection
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """The schema's ``players`` table locked by another session; the callable releases it."""
    await (await PostgresStorage.open(schema_url(schema))).close()
    transaction = db.transaction()
    await transaction.start()
    await db.execute(f'LOCK TABLE "{schema}".players IN ACCESS EXCLUSIVE MODE')
    released = False

    async def release() -> None:
        nonlocal released
        if not released:
            released = True
            await transaction.rollback()

    try:
        yield release
    finally:
        await release()


async def timed_out(
    storage: PostgresStorage, release: Callable[[], Awaitable[None]], seconds: float = 0.2
) -> bool:
    """Look up a player under ``asyncio.timeout(seconds)`` while the players table is locked:
    True when the timeout ended the call with the lock still held.

    The wait for it is guarded, not measured: the lock is held for good, so only the timeout
    can end the call; a call that ignores it is let finish by releasing the lock.
    """

    async def call() -> bool:
        try:
            async with asyncio.timeout(seconds):
                await storage.player("alice")
        except TimeoutError:
            return True
        return False

    task = asyncio.create_task(call())
    done, _ = await asyncio.wait([task], timeout=10)
    if task not in done:
        await release()
        await task
        return False
    return await task


async def test_a_timeout_around_a_blocked_call_ends_it_while_the_block_holds(
    schema: str, locked: Callable[[], Awaitable[None]]
) -> None:
    storage = await PostgresStorage.open(schema_url(schema))
    try:
        assert await timed_out(storage, locked)
    finally:
        await storage.close()


async def test_a_timed_out_call_is_cancelled_on_the_server(
    schema: str, db: asyncpg.Connection, locked: Callable[[], Awaitable[None]]
) -> None:
    storage = await PostgresStorage.open(schema_url(schema))
    try:
        assert await timed_out(storage, locked)

        async def nobody_waits() -> bool:
            waiting = await db.fetchval(
                "SELECT COUNT(*) FROM pg_locks WHERE NOT granted AND relation = $1::regclass",
                f'"{schema}".players',
            )
            return bool(waiting == 0)

        await eventually(nobody_waits)
    finally:
        await locked()
        await storage.close()


async def test_after_timed_out_calls_every_pooled_connection_still_works(
    schema: str, locked: Callable[[], Awaitable[None]]
) -> None:
    storage = await PostgresStorage.open(schema_url(schema))
    try:
        for _ in range(POOL_SIZE + 1):
            assert await timed_out(storage, locked)
        await locked()
        async with asyncio.timeout(10):
            found = await asyncio.gather(*(storage.player("computer") for _ in range(POOL_SIZE)))
        assert all(player is not None for player in found)
    finally:
        await storage.close()


async def test_a_statement_over_the_command_timeout_is_unavailable_in_one_line(
    schema: str, locked: Callable[[], Awaitable[None]]
) -> None:
    storage = await PostgresStorage.open(schema_url(schema) + "&command_timeout=0.2")
    try:
        async with asyncio.timeout(10):
            with pytest.raises(StorageError) as info:
                await storage.player("alice")
        assert info.value.code == "unavailable"
        assert str(info.value) == (
            "cannot look up a player: no answer from the server within 0.2 s"
        )
        await locked()
        assert await storage.player("computer") is not None
    finally:
        await storage.close()
