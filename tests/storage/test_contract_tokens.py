"""The storage contract, devices (many tokens per player), on every backend."""

from __future__ import annotations

from storage.base import Storage
from tests.storage.contract import T0


async def test_a_player_holds_many_tokens_and_each_finds_the_player(storage: Storage) -> None:
    ann = await storage.create_player("Ann", "h1", T0)
    await storage.add_token(ann, "h2", T0 + 1)
    assert await storage.player_by_token("h1") == ann
    assert await storage.player_by_token("h2") == ann


async def test_a_revoked_token_finds_nobody_and_the_others_keep_working(storage: Storage) -> None:
    ann = await storage.create_player("Ann", "h1", T0)
    await storage.add_token(ann, "h2", T0 + 1)
    assert await storage.revoke_token("h1") is True
    assert await storage.player_by_token("h1") is None
    assert await storage.player_by_token("h2") == ann
    assert await storage.revoke_token("h1") is False


async def test_revoking_every_token_keeps_the_player_one_with_tokens(storage: Storage) -> None:
    ann = await storage.create_player("Ann", "h1", T0)
    assert await storage.revoke_token("h1") is True
    found = await storage.player("ann")
    assert found == ann and found.has_token is True


async def test_revoking_an_unstorable_or_unknown_token_is_false(storage: Storage) -> None:
    assert await storage.revoke_token("nobody") is False
    assert await storage.revoke_token("a\x00b") is False


async def test_many_tokens_are_looked_up_at_once_each_finding_its_player(storage: Storage) -> None:
    ann = await storage.create_player("Ann", "h1", T0)
    bob = await storage.create_player("bob", "h3", T0)
    await storage.add_token(ann, "h2", T0 + 1)
    await storage.revoke_token("h1")
    found = await storage.players_by_tokens(["h2", "h3", "h1", "nobody", "a\x00b", "h3"])
    assert found == {"h2": ann, "h3": bob}
    assert await storage.players_by_tokens([]) == {}
    many = [f"k{i}" for i in range(600)]
    for h in many[:3]:
        await storage.add_token(bob, h, T0 + 2)
    assert await storage.players_by_tokens(many) == {h: bob for h in many[:3]}
