"""A real hub's game ids sort by the time each game started, whichever way it started, and work
in URLs and topics as before (``hub.hubstate.new_game_id``)."""

from __future__ import annotations

import asyncio
import string
import time

from tests.conftest import HubFactory
from tests.hub.restclient import Rest, new_game, session
from tests.hub.test_sortable_ids import ms_of
from tests.hub.wsclient import Clients, Peer, start_pvp

URL_SAFE = set(string.ascii_letters + string.digits + "-_")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def next_ms(after: str) -> None:
    """Wait until the millisecond a game id tells is over."""
    assert len(after) == 16 and abs(ms_of(after) - now_ms()) < 1000, after  # a time around now
    await asyncio.sleep((ms_of(after) + 2 - now_ms()) / 1000)
    assert now_ms() > ms_of(after)


async def over(ann: Peer, game_id: str) -> None:
    """ann resigns her game (it is over when she has the reply)."""
    await ann.ok("resign", game=game_id)


async def test_games_started_every_way_have_ids_in_start_order_that_rest_and_topics_take(
    start_hub: HubFactory, clients: Clients
) -> None:
    server = await start_hub(queue_step=0.05)
    ann, bob = await clients.player(server, "ann"), await clients.player(server, "bob")
    assert ann.token is not None
    before = now_ms()
    ids = [(await ann.ok("play", opponent="computer", best_of=1))["game"]]
    await over(ann, ids[-1])
    await next_ms(ids[-1])
    ids.append((await ann.ok("rematch", game=ids[-1]))["game"])
    await over(ann, ids[-1])
    await next_ms(ids[-1])
    ids.append(await start_pvp(ann, bob, best_of=1))  # a challenge accepted
    await over(ann, ids[-1])
    await next_ms(ids[-1])
    assert await ann.ok("play", opponent="*", best_of=1) == {"queued": True}
    assert (await bob.ok("play", opponent="*", best_of=1))["queued"] is True
    ids.append((await ann.event("player:ann", "game_started"))["data"]["id"])  # paired
    await over(ann, ids[-1])
    await next_ms(ids[-1])
    async with session() as s:
        rest = Rest(s, server)
        ids.append((await new_game(rest, ann.token, best_of=1))["id"])  # over REST
        after = now_ms()

        assert len(set(ids)) == 5
        assert ids == sorted(ids)
        assert [ms_of(i) for i in ids] == sorted({ms_of(i) for i in ids})
        for game_id in ids:
            assert len(game_id) == 16 and set(game_id) <= URL_SAFE, game_id
            assert before <= ms_of(game_id) <= after
            assert (await rest.ok("GET", f"/api/games/{game_id}"))["id"] == game_id
        listed = await rest.ok("GET", "/api/games?player=ann&limit=10")
        assert [g["id"] for g in listed["games"]] == ids[::-1]  # newest first

    spectator = await clients.spectator(server)
    live = ids[-1]
    snapshot = (await spectator.ok("subscribe", topic=f"game:{live}"))["snapshot"]
    assert snapshot["id"] == live
    await spectator.ok("subscribe", topic=f"game:{ids[0]}")  # a finished game's topic too
    await ann.ok("subscribe", topic=f"game:{live}")
    await ann.ok("move", game=live, roll="Rock")
    moved = await spectator.event(f"game:{live}", "moved")
    assert moved["data"] == {"round": 1, "player": "ann"}
