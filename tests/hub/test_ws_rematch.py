"""Rematch on a real hub: against the computer, against a player from either side, both at once."""

from __future__ import annotations

import asyncio

from tests.conftest import HubFactory
from tests.hub.restclient import Rest, session
from tests.hub.wsclient import Clients, Peer, start_pvp


async def finish(ann: Peer, bob: Peer, game_id: str) -> None:
    """bob resigns the game."""
    await bob.ok("resign", game=game_id)
    await ann.event(f"game:{game_id}", "game_over")


async def test_a_rematch_against_the_computer_starts_the_same_game_at_once(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann = await clients.player(server, "ann")
    first = (await ann.ok("play", opponent="computer", best_of=3, rules="rps3", level="reader"))[
        "game"
    ]
    assert (await ann.error("rematch", game=first))["code"] == "conflict"  # still playing
    await ann.ok("resign", game=first)
    reply, frames = await ann.request("rematch", game=first)
    second = reply["data"]["game"]
    [started] = [f["data"] for f in frames if f.get("event") == "game_started"]
    assert second != first and started["id"] == second
    assert (started["rules"], started["best_of"], started["level"]) == ("rps3", 3, "reader")
    assert (await ann.error("rematch", game=first))["code"] == "conflict"  # playing another


async def test_a_rematch_against_a_player_is_a_challenge_either_side_can_send(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann, bob = await clients.player(server, "ann"), await clients.player(server, "bob")
    old = await start_pvp(ann, bob, best_of=3, rules="rps3")
    await finish(ann, bob, old)
    for asker, other in ((bob, ann), (ann, bob)):
        challenge = (await asker.ok("rematch", game=old))["challenge"]
        event = await other.event(f"player:{other.name}", "challenge")
        assert event["data"] == {
            "id": challenge,
            "from": asker.name,
            "best_of": 3,
            "rules": "rps3",
            "rematch": old,
        }
        await other.ok("decline", challenge=challenge)
    challenge = (await ann.ok("rematch", game=old))["challenge"]
    await bob.event("player:bob", "challenge")
    game = (await bob.ok("accept", challenge=challenge))["game"]
    assert game != old


async def test_both_asking_for_a_rematch_start_one_game(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann, bob = await clients.player(server, "ann"), await clients.player(server, "bob")
    old = await start_pvp(ann, bob, best_of=1, rules="rps3")
    await finish(ann, bob, old)
    first, second = await asyncio.gather(ann.ok("rematch", game=old), bob.ok("rematch", game=old))
    games = {r["game"] for r in (first, second) if "game" in r}
    assert len(games) == 1 and [set(r) for r in (first, second)].count({"challenge"}) == 1
    async with session() as s:
        playing = await Rest(s, server).ok("GET", "/api/games?status=playing")
    assert {g["id"] for g in playing["games"]} == games


async def test_a_rematch_is_refused_to_others_and_for_unknown_games(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub()
    ann, bob = await clients.player(server, "ann"), await clients.player(server, "bob")
    cat = await clients.player(server, "cat")
    old = await start_pvp(ann, bob, best_of=1, rules="rps3")
    await finish(ann, bob, old)
    assert (await cat.error("rematch", game=old))["code"] == "forbidden"
    assert (await ann.error("rematch", game="nosuchgame12"))["code"] == "not_found"
    await cat.ok("play", opponent="computer")
    other = await start_pvp(bob, cat_free := await clients.player(server, "dan"))
    assert cat_free.name == "dan" and other
    assert (await ann.error("rematch", game=old))["code"] == "conflict"  # bob is playing
