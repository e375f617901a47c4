"""A rematch, a level for the computer and the queue's pools on the lobby page (issue 11), in a
real Chromium against a real hub, at 1280x800 and 390x844."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from tests.web.browserkit import LOSER, WINNER
from tests.web.conftest import Join, get_json, hub_url
from tests.web.pagekit import (
    DESKTOP,
    PHONE,
    Pages,
    assert_accessible,
    play_by_clicks,
    play_to_the_end,
    sign_up,
)

pytestmark = pytest.mark.browser

StartHub = Callable[..., Awaitable[TestServer]]
SIZES = pytest.mark.parametrize(("size", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])
EITHER = re.compile(r"^(alice vs bob|bob vs alice)$")


def game_id(page: Page) -> str:
    return page.url.rsplit("/", 1)[1]


@SIZES
async def test_a_rematch_against_the_computer_starts_the_next_game_at_once(
    start_hub: StartHub, pages: Pages, size: tuple[int, int], label: str
) -> None:
    server = await start_hub(round_deadline=60)
    page = await pages.open(hub_url(server), size=size)
    await sign_up(page, "alice")
    await page.get_by_label("Best of").select_option("1")
    await page.get_by_label("Rules").select_option("rps3")
    await page.get_by_role("button", name="Play the computer").click()
    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()
    first = game_id(page)
    await play_to_the_end(page, ["Rock", "Paper", "Scissors"])
    await assert_accessible(page, f"a result with Rematch, {label}")
    await page.get_by_role("button", name="Rematch", exact=True).click()
    await expect(page).not_to_have_url(re.compile(f"{first}$"))
    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()
    await expect(page.locator("#game-view")).to_have_attribute("data-status", "playing")
    game = await get_json(server, f"/api/games/{game_id(page)}")
    assert (game["rules"], game["best_of"]) == ("rps3", 1)


@SIZES
async def test_a_rematch_both_players_ask_for_starts_at_once(
    start_hub: StartHub, pages: Pages, size: tuple[int, int], label: str
) -> None:
    server = await start_hub(round_deadline=60)
    alice = await pages.open(hub_url(server), size=size)
    await sign_up(alice, "alice")
    bob = await pages.open(hub_url(server), size=size)
    await sign_up(bob, "bob")
    await alice.get_by_label("Best of").select_option("1")
    await alice.get_by_role("button", name="Challenge bob").click()
    await bob.get_by_role("button", name="Accept the challenge from alice").click()
    await expect(alice.get_by_role("heading", name="alice vs bob")).to_be_visible()
    await expect(bob.get_by_role("heading", name="alice vs bob")).to_be_visible()
    first = game_id(alice)
    await play_by_clicks(alice, WINNER)
    await play_by_clicks(bob, LOSER)
    await expect(alice.locator("#game-end-text")).to_have_text("You won the game!")
    await expect(bob.locator("#game-end-text")).to_have_text("alice won the game.")

    await alice.get_by_role("button", name="Rematch", exact=True).click()
    await expect(alice.locator("#rematch-status")).to_have_text("Rematch asked; waiting for bob…")
    await expect(alice.get_by_role("button", name="Rematch", exact=True)).to_be_disabled()
    tray = bob.get_by_role("complementary", name="Challenges for you")
    await expect(tray.locator("li")).to_contain_text("alice asks for a rematch: rps15, best of 1")
    await assert_accessible(bob, f"a rematch offered, {label}")
    await bob.get_by_role(
        "button", name="Rematch", exact=True
    ).click()  # bob asks too: it starts at once

    for page in (alice, bob):
        await expect(page).not_to_have_url(re.compile(f"{first}$"))
        await expect(page.get_by_role("heading", name=EITHER)).to_be_visible()
        await expect(page.locator("#game-view")).to_have_attribute("data-status", "playing")
    assert game_id(alice) == game_id(bob)
    await expect(tray).to_be_hidden()
    game = await get_json(server, f"/api/games/{game_id(alice)}")
    assert (game["rules"], game["best_of"], sorted(game["players"])) == (
        "rps15",
        1,
        ["alice", "bob"],
    )


async def test_a_declined_rematch_says_so_on_the_result(
    start_hub: StartHub, pages: Pages, scripted: Join
) -> None:
    server = await start_hub(round_deadline=60)
    bob = await scripted(server, "bob")
    page = await pages.open(hub_url(server))
    await sign_up(page, "alice")
    await bob.request("play", opponent="alice", best_of=1)
    await page.get_by_role("button", name="Accept the challenge from bob").click()
    await expect(page.get_by_role("heading", name="bob vs alice")).to_be_visible()
    await bob.request("move", game=game_id(page), roll=LOSER, round=1)
    await play_by_clicks(page, WINNER)
    await page.get_by_role("button", name="Rematch", exact=True).click()
    offer = await bob.event("challenge")
    assert offer["rematch"] == game_id(page)
    await bob.request("decline", challenge=offer["id"])
    await expect(page.locator("#rematch-status")).to_have_text("bob declined the rematch.")
    await expect(page.get_by_role("button", name="Rematch", exact=True)).to_be_enabled()


async def test_the_computer_plays_at_the_level_chosen(start_hub: StartHub, pages: Pages) -> None:
    server = await start_hub(round_deadline=60)
    page = await pages.open(hub_url(server))
    await sign_up(page, "alice")
    await page.get_by_label("Computer").select_option("reader")
    await page.get_by_role("button", name="Play the computer").click()
    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()
    await expect(page.locator("#game-meta")).to_contain_text("the computer plays reader")
    game = await get_json(server, f"/api/games/{game_id(page)}")
    assert game["level"] == "reader"
