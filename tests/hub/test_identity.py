"""``hub.identity.Identity``: one implementation for one process (SQLite) and a cluster node
(PostgreSQL); the same tests run against both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.identity import Identity, hash_token
from protocol.errors import BadMessage, Unauthorized
from storage.base import NameTaken
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
