"""The storage contract, players, on every backend (``BACKENDS`` in conftest.py)."""

from __future__ import annotations

import asyncio

import pytest

from protocol.game import COMPUTER
from storage.base import (
    NameTaken,
    Storage,
)
from tests.storage.contract import T0, register

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
