"""Each game's lock (``hub.table.lock``): held in turn, and kept in the table only while a game
is live or someone holds or awaits its lock."""

from __future__ import annotations

import asyncio

from hub import keys
from tests.hub.restclient import Rest, new_game


async def test_a_lock_is_held_in_turn_and_forgotten_when_nobody_holds_or_awaits_it(
    rest: Rest,
) -> None:
    hub = rest.server.app[keys.HUB]
    order: list[str] = []

    async def second() -> None:
        async with hub.table.lock("nope"):
            order.append("second")

    async with hub.table.lock("nope"):
        waiter = asyncio.create_task(second())
        await asyncio.sleep(0)
        order.append("first")
    await waiter
    assert order == ["first", "second"]
    assert "nope" not in hub.table.locks


async def test_a_waiter_cancelled_before_it_holds_the_lock_leaves_no_entry(rest: Rest) -> None:
    hub = rest.server.app[keys.HUB]
    entered = asyncio.Event()

    async def wait() -> None:
        async with hub.table.lock("nope"):
            entered.set()

    async with hub.table.lock("nope"):
        waiter = asyncio.create_task(wait())
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
    assert waiter.cancelled() and not entered.is_set()
    assert "nope" not in hub.table.locks


async def test_a_live_games_lock_stays_and_goes_when_the_game_ends(rest: Rest) -> None:
    hub = rest.server.app[keys.HUB]
    token = await rest.register("ann")
    game = await new_game(rest, token)
    await rest.ok("POST", f"/api/games/{game['id']}/moves", {"roll": "Rock"}, token=token)
    assert game["id"] in hub.table.locks
    await hub.resign(game["id"], "ann")
    assert game["id"] not in hub.table.locks


async def test_waiters_hold_the_lock_in_arrival_order_and_a_cancelled_one_passes_its_turn(
    rest: Rest,
) -> None:
    hub = rest.server.app[keys.HUB]
    order: list[str] = []

    async def take(name: str) -> None:
        async with hub.table.lock("nope"):
            order.append(name)
            await asyncio.sleep(0)

    async with hub.table.lock("nope"):
        tasks = [asyncio.create_task(take(name)) for name in ("a", "b", "c")]
        await asyncio.sleep(0)
    tasks[0].cancel()  # woken by the release, cancelled before it ran: "b" goes next
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == ["b", "c"] and tasks[0].cancelled()
    assert not hub.table.locked("nope") and "nope" not in hub.table.locks


async def test_a_waiter_cancelled_as_the_lock_is_released_lets_nobody_else_in(
    rest: Rest,
) -> None:
    hub = rest.server.app[keys.HUB]
    inside = most = 0

    async def take() -> None:
        nonlocal inside, most
        async with hub.table.lock("nope"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    async with hub.table.lock("nope"):
        tasks = [asyncio.create_task(take()) for _ in range(3)]
        await asyncio.sleep(0)  # all three wait
        tasks[1].cancel()  # the second waiter's cancellation runs before the first one wakes
    await asyncio.gather(*tasks, return_exceptions=True)
    assert most == 1
    assert tasks[1].cancelled() and not hub.table.locked("nope")
