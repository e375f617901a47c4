"""Challenges shown wherever the player is, and "Forget me" asking first (issue 11)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from tests.web.conftest import Join, hub_url
from tests.web.pagekit import DESKTOP, PHONE, Pages, in_view, play_to_the_end, sign_up

pytestmark = pytest.mark.browser

StartHub = Callable[..., Awaitable[TestServer]]


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_challenge_that_arrives_mid_game_is_shown_and_accepted_after_it(
    start_hub: StartHub, pages: Pages, scripted: Join, size: tuple[int, int]
) -> None:
    server = await start_hub()
    bob = await scripted(server, "bob")
    page = await pages.open(hub_url(server), size=size)
    await sign_up(page, "alice")
    await page.get_by_label("Best of").select_option("1")
    await page.get_by_role("button", name="Play the computer").click()
    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()

    offer = await bob.request("play", opponent="alice", best_of=3)
    tray = page.get_by_role("complementary", name="Challenges for you")
    await expect(tray).to_be_visible()
    await expect(tray.locator("li")).to_have_text(
        "bob challenges you: rps15, best of 3 — answer when your game is overAcceptDecline"
    )
    await expect(tray.locator(f"li[data-challenge='{offer['challenge']}']")).to_have_count(1)
    assert await in_view(tray), "the challenge is in view in the middle of a game"
    await expect(page.locator("#game-view")).to_be_visible()  # the game stays on screen

    await play_to_the_end(page, ["Gun", "Paper", "Tree"])
    offered = "bob challenges you: rps15, best of 3"
    await expect(tray.locator("li")).to_have_text(f"{offered}AcceptDecline")
    await page.get_by_role("button", name="Accept the challenge from bob").click()
    started = await bob.event("game_started")
    assert started["players"] == ["bob", "alice"]
    await expect(page.get_by_role("heading", name="bob vs alice")).to_be_visible()
    await expect(tray).to_be_hidden()


async def test_accepting_during_the_game_says_why_it_cannot_be_done_yet(
    start_hub: StartHub, pages: Pages, scripted: Join
) -> None:
    server = await start_hub()
    bob = await scripted(server, "bob")
    page = await pages.open(hub_url(server))
    await sign_up(page, "alice")
    await page.get_by_role("button", name="Play the computer").click()
    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()
    await bob.request("play", opponent="alice")
    await page.get_by_role("button", name="Accept the challenge from bob").click()
    await expect(page.locator("#challenge-note")).to_contain_text("Could not accept:")
    await expect(page.get_by_role("button", name="Accept the challenge from bob")).to_be_visible()
    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()

    await page.get_by_role("button", name="Decline the challenge from bob").click()
    await bob.event("challenge_declined")
    await expect(page.locator("#challenges li")).to_have_count(0)


async def test_forget_me_asks_before_it_forgets(start_hub: StartHub, pages: Pages) -> None:
    server = await start_hub()
    page = await pages.open(hub_url(server))
    await sign_up(page, "alice")
    dialog = page.get_by_role("dialog", name="Forget me on this browser?")

    await page.get_by_role("button", name="Forget me on this browser").click()
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("key to alice is deleted")
    await expect(page.get_by_role("button", name="Keep me")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await page.get_by_role("button", name="Forget me on this browser").click()
    await page.get_by_role("button", name="Keep me").click()
    await expect(dialog).to_be_hidden()
    await page.reload()
    await expect(page.locator("#whoami-name")).to_have_text("alice")

    await page.get_by_role("button", name="Forget me on this browser").click()
    async with page.expect_navigation():  # the page reloads once the hub revoked the token
        await page.get_by_role("button", name="Forget me", exact=True).click()
    await expect(page.get_by_label("Your name")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('rps-hub.token')") is None
