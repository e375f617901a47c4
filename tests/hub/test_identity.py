"""``hub.identity.Identity``: one implementation for one process (SQLite) and a cluster node
(PostgreSQL); the same tests run against both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from hub.identity import Identity, hash_token
from protocol.errors import BadMessage, Unauthorized
from storage.base import NameTaken, PlayerRecord, Storage
from storage.open import open_storage
from tests.postgres import fresh_schema, schema_url


@pytest.fixture(params=["sqlite", "postgres"])
async def identity(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Identity]:
    if request.param == "sqlite":
        storage = await open_storage(str(tmp_path / "hub.db"))
        try:
            yield Identity(storage, lambda: 1_000)
        finally:
            await storage.close()
        return
    async with fresh_schema() as schema:
        storage = await open_storage(schema_url(schema))
        try:
            yield Identity(storage, lambda: 1_000)
        finally:
            await storage.close()


async def test_a_token_names_its_player_until_it_is_revoked(identity: Identity) -> None:
    record, token = await identity.register("Ann")
    assert (record.name, record.created) == ("Ann", 1_000)
    assert (await identity.authenticate(token)).name == "Ann"
    other = await identity.add_token(record)
    assert other != token and (await identity.authenticate(other)).name == "Ann"
    await identity.revoke_token(token)
    with pytest.raises(Unauthorized):
        await identity.authenticate(token)
    with pytest.raises(Unauthorized):
        await identity.revoke_token(token)
    assert (await identity.authenticate(other)).name == "Ann"
    assert hash_token(token) != token and len(hash_token(token)) == 64  # only the hash is stored


async def test_names_are_checked_unique_and_tokenless_players_have_no_token(
    identity: Identity,
) -> None:
    for bad in ("", "a b", "x" * 33, 7, None):
        with pytest.raises(BadMessage):
            await identity.register(bad)
    legacy = await identity.register_tokenless("bob")
    assert (legacy.name, legacy.has_token) == ("bob", False)
    with pytest.raises(NameTaken):
        await identity.register("BOB")
    for bad in ("", None, 3, "nope"):
        with pytest.raises(Unauthorized):
            await identity.authenticate(bad)


async def test_no_token_starts_with_a_dash_so_a_command_line_takes_it(identity: Identity) -> None:
    # ``rps-hub login TOKEN`` (the command the client prints for another device): a TOKEN that
    # starts with "-" is an unknown option to the command line. One token in 64 did.
    record, first = await identity.register("Ann")
    tokens = [first] + [await identity.add_token(record) for _ in range(600)]
    assert [t for t in tokens if t.startswith("-")] == []
    assert {len(t) for t in tokens} == {43}  # 32 random bytes in base64url (docs/protocol.md)
    assert len(set(tokens)) == len(tokens)


class Counting:
    """A storage that counts the reads that look tokens up (ours: not a mock, a window)."""

    def __init__(self, storage: Storage) -> None:
        self.storage, self.lookups = storage, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)

    async def player_by_token(self, token_hash: str) -> PlayerRecord | None:
        self.lookups += 1
        return await self.storage.player_by_token(token_hash)

    async def players_by_tokens(self, hashes: Sequence[str]) -> dict[str, PlayerRecord]:
        self.lookups += 1
        return await self.storage.players_by_tokens(hashes)


async def test_authentications_that_arrive_together_are_looked_up_in_one_read(
    identity: Identity,
) -> None:
    # A thousand clients reconnecting at once (a restart, a deploy) each waited for a read of
    # their own: on a busy hub a read waits for the event loop at each step, and only a few run
    # at once, so the last of 1,000 authenticated 16 s later (benchmarks/moves.py).
    tokens = [(await identity.register(f"p{i}"))[1] for i in range(50)]
    counting = Counting(identity.storage)
    identity.storage = counting  # type: ignore[assignment]
    found = await asyncio.gather(
        *(identity.authenticate(t) for t in [*tokens, "nope", tokens[0]]), return_exceptions=True
    )
    assert [getattr(f, "name", f) for f in found[:50]] == [f"p{i}" for i in range(50)]
    assert isinstance(found[50], Unauthorized) and getattr(found[51], "name", None) == "p0"
    assert counting.lookups == 1


async def test_a_token_revoked_while_others_are_looked_up_is_refused_after(
    identity: Identity,
) -> None:
    ann, token = await identity.register("Ann")
    other = await identity.add_token(ann)
    first = asyncio.ensure_future(identity.authenticate(other))
    await asyncio.sleep(0)  # its lookup is under way
    await identity.revoke_token(token)
    with pytest.raises(Unauthorized):
        await identity.authenticate(token)
    assert (await first).name == "Ann"
