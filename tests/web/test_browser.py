"""The lobby page in a real headless Chromium against a real hub (issue #5): a player signs up,
plays, reloads, reconnects and resigns."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from tests.web.browserkit import (
    DASH,
    LOSER,
    WINNER,
    StartHub,
    challenge_accepted,
    fits_sideways,
    play_round,
    round_row,
    sign_up,
)
from tests.web.conftest import Join, OpenPage, Proxy, get_json, hub_url, register, screenshot_path

pytestmark = pytest.mark.browser


async def test_a_player_registers_and_plays_the_computer_to_the_end_by_clicking(
    start_hub: StartHub, open_page: OpenPage
) -> None:
    server = await start_hub(round_deadline=30)
    page = await open_page(hub_url(server))
    await sign_up(page, "alice")
    await page.get_by_label("Best of").select_option("3")
    await page.get_by_role("button", name="Play the computer").click()

    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()
    await expect(page.locator("#game-meta")).to_contain_text("best of 3")
    game_id = page.url.rsplit("/", 1)[1]
    rolls = page.locator("#rolls button")
    await expect(rolls).to_have_count(15)
    await expect(page.locator("#game-state")).to_contain_text(re.compile(r"Round 1 — \d+ s left"))
    await expect(page.locator("#commit-line")).to_contain_text("The computer has committed")

    played = 0
    while True:
        await expect(
            page.locator(
                "#game-view[data-status='finished'], #rolls button:not([aria-disabled])"
            ).first
        ).to_be_visible()
        if await page.locator("#game-view").get_attribute("data-status") == "finished":
            break
        assert played < 50, "a game ends by round 50"
        roll = await rolls.nth(played % 15).get_attribute("data-roll")
        await rolls.nth(played % 15).click()  # picks the roll; the Play button plays it
        await page.get_by_role("button", name=f"Play {roll}", exact=True).click()
        played += 1
        row = round_row(page, played)
        await expect(row).to_be_visible()
        await expect(row.locator("td").nth(1)).to_have_text(str(roll))
        await expect(page.locator("#round-result")).to_contain_text(
            f"Round {played}: alice {roll}, computer "
        )

    game = await get_json(server, f"/api/games/{game_id}")
    assert game["status"] == "finished"
    assert len(game["rounds"]) == played
    score = f"{game['score']['alice']}{DASH}{game['score']['computer']}"
    await expect(page.locator("#game-state")).to_have_text(
        f"Finished: {game['winner']} won, {score}."
    )
    await expect(page.locator("#move-panel")).to_be_hidden()
    await expect(page.locator("#rounds td.verified")).to_have_count(played)
    await expect(page.locator("#rounds td.mismatch")).to_have_count(0)
    await page.screenshot(path=screenshot_path("finished-game.png"), full_page=True)
    await page.set_viewport_size({"width": 375, "height": 740})
    assert await fits_sideways(page), "the game view needs no sideways scrolling on a phone"

    await page.reload()  # the rounds now come from the game's snapshot
    await expect(page.locator("#rounds td.verified")).to_have_count(played)


async def test_a_taken_name_is_refused_with_a_clear_message(
    start_hub: StartHub, open_page: OpenPage
) -> None:
    server = await start_hub()
    await register(server, "alice")
    page = await open_page(hub_url(server))
    await page.get_by_label("Your name").fill("Alice")
    await page.get_by_role("button", name="Join").click()
    await expect(page.get_by_role("alert").filter(has_text="already taken")).to_have_text(
        "The name “Alice” is already taken. Please pick another name."
    )
    await expect(page.get_by_label("Your name")).to_be_visible()


async def test_the_page_remembers_its_player_across_a_reload(
    start_hub: StartHub, open_page: OpenPage
) -> None:
    server = await start_hub()
    page = await open_page(hub_url(server))
    await sign_up(page, "alice")
    await page.reload()
    await expect(page.locator("#whoami-name")).to_have_text("alice")
    await expect(page.locator("#players li[data-player='alice']")).to_contain_text("alice (you)")
    await expect(page.get_by_label("Your name")).to_be_hidden()


async def test_the_page_reconnects_and_recovers_the_rounds_it_missed(
    start_hub: StartHub,
    open_page: OpenPage,
    scripted: Join,
    proxy_to: Callable[[TestServer], Awaitable[Proxy]],
) -> None:
    server = await start_hub(grace=0.2)
    proxy = await proxy_to(server)
    alice = await scripted(server, "alice")
    bob = await scripted(server, "bob")
    game_id = await challenge_accepted(alice, bob, best_of=5)
    page = await open_page(f"{proxy.url}#/game/{game_id}")
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
    await expect(page.get_by_role("heading", name="alice vs bob")).to_be_visible()
    await play_round(game_id, (alice, WINNER), (bob, LOSER), 1)
    await expect(round_row(page, 1)).to_be_visible()

    proxy.cut()
    await expect(page.locator("#banner")).to_contain_text("Disconnected from the hub")
    await page.screenshot(path=screenshot_path("disconnected.png"))
    await play_round(game_id, (alice, LOSER), (bob, WINNER), 2)
    await play_round(game_id, (alice, "Paper"), (bob, "Paper"), 3)
    await bob.close()  # leaves the lobby while the page is away
    proxy.resume()

    await expect(page.locator("#banner")).to_be_hidden()
    await expect(page.locator("#rounds tbody tr")).to_have_count(3)
    await expect(round_row(page, 2)).to_have_text(re.compile(rf"2\s*{LOSER}\s*{WINNER}\s*bob"))
    await expect(page.locator("#game-state")).to_contain_text("Round 4")
    recover = re.compile(rf'"topic":"game:{game_id}","since":\d+,"epoch":')
    assert any(recover.search(frame) for frame in sent), f"the page recovers with since: {sent}"

    await page.get_by_role("link", name="Back to the lobby").click()
    await expect(page.locator("#players li[data-player='alice']")).to_be_visible()
    await expect(page.locator("#players li[data-player='bob']")).to_have_count(0)


async def test_a_link_to_an_unknown_game_says_so(start_hub: StartHub, open_page: OpenPage) -> None:
    server = await start_hub()
    page = await open_page(hub_url(server, "/#/game/nope"))
    await expect(page.get_by_role("heading", name="Game not found")).to_be_visible()
    await expect(page.locator("#game-state")).to_have_text("There is no game “nope” on this hub.")
    await expect(page.locator("#rounds-section")).to_be_hidden()


async def test_resigning_takes_two_clicks_and_ends_the_game(
    start_hub: StartHub, open_page: OpenPage
) -> None:
    server = await start_hub()
    page = await open_page(hub_url(server))
    await sign_up(page, "alice")
    await page.get_by_role("button", name="Play the computer").click()
    resign = page.get_by_role("button", name="Resign")
    await resign.click()
    await expect(page.get_by_role("button", name="Click again to resign")).to_be_visible()
    await expect(page.locator("#game-view")).to_have_attribute("data-status", "playing")
    await page.get_by_role("button", name="Click again to resign").click()
    await expect(page.locator("#game-state")).to_have_text(
        f"Finished: computer won (resignation), 0{DASH}0."
    )
