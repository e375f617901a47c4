"""Ratings on the lobby page (issue 11): the change a rated game made, on its result; a player's
page with the history of their rating as a table and an inline SVG chart; the leaderboard by
rating."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from tests.web.browserkit import LOSER, WINNER, challenge_accepted, play_round
from tests.web.conftest import Join, get_json, hub_url
from tests.web.pagekit import (
    DESKTOP,
    PHONE,
    Pages,
    assert_accessible,
    play_by_clicks,
    settle,
    shot,
    sign_up,
)

pytestmark = pytest.mark.browser

StartHub = Callable[..., Awaitable[TestServer]]


def signed(n: int) -> str:
    """A change as the page writes it."""
    return f"+{n}" if n > 0 else f"\u2212{-n}" if n < 0 else "\u00b10"


@pytest.mark.parametrize(("size", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])
async def test_a_rated_game_shows_its_change_and_the_player_page_charts_the_history(
    start_hub: StartHub, pages: Pages, scripted: Join, size: tuple[int, int], label: str
) -> None:
    server = await start_hub(round_deadline=60)
    bob = await scripted(server, "bob")
    carol = await scripted(server, "carol")
    for n, (first, second) in enumerate([(bob, carol), (carol, bob), (bob, carol)]):
        game = await challenge_accepted(first, second, best_of=1)
        winner, loser = (bob, carol) if n != 1 else (carol, bob)
        await play_round(game, (winner, WINNER), (loser, LOSER), 1)

    page = await pages.open(hub_url(server), size=size)
    await sign_up(page, "alice")
    offer = await bob.request("play", opponent="alice", best_of=1)
    await page.get_by_role("button", name="Accept the challenge from bob").click()
    await expect(page.get_by_role("heading", name="bob vs alice")).to_be_visible()
    await bob.request("move", game=page.url.rsplit("/", 1)[1], roll=LOSER, round=1)
    await play_by_clicks(page, WINNER)
    await expect(page.locator("#game-end-text")).to_have_text("You won the game!")
    game = await get_json(server, f"/api/games/{page.url.rsplit('/', 1)[1]}")
    change = game["rating_change"]
    assert change["alice"] > 0 > change["bob"], offer
    await expect(page.locator("#rating-change")).to_have_text(
        f"Rating: bob {signed(change['bob'])}, you {signed(change['alice'])}"
    )

    await page.goto(hub_url(server, "/#/player/bob"))
    await expect(page.get_by_role("heading", name="bob", exact=True)).to_be_visible()
    record = await get_json(server, "/api/players/bob")
    history = await get_json(server, "/api/players/bob/ratings")
    assert len(history) == 4
    rating = record["rating"]
    await expect(page.locator("#player-record")).to_have_text("4 games · 2 won · 2 lost · 0 drawn")
    await expect(page.locator("#player-rating")).to_have_text(
        f"Rating {rating['value']} ± {rating['deviation']}, provisional"
    )
    chart = page.get_by_role("img", name="bob's rating")
    await expect(chart).to_be_visible()
    await expect(chart.locator("circle.point")).to_have_count(4)
    points = chart.locator("circle.point")
    for i, row in enumerate(history):
        await expect(points.nth(i)).to_have_attribute("data-game", row["game"])
    await expect(page.locator("#rating-history tbody tr")).to_have_count(4)
    latest = page.locator("#rating-history tbody tr").first
    await expect(latest).to_have_attribute("data-game", history[-1]["game"])
    before = history[-2]["value"]
    await expect(latest.locator("td").nth(3)).to_have_text(signed(history[-1]["value"] - before))
    box = await chart.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size[0]
    await assert_accessible(page, f"a player's page, {label}")
    await settle(page)
    await page.screenshot(path=shot(f"player-{label}.png"), full_page=True)

    await page.get_by_role("link", name="Back to the lobby").click()
    await page.get_by_role("button", name="Rating", exact=True).click()
    await expect(page.get_by_role("button", name="Rating", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(page.locator("#leaders-empty")).to_have_text("Nobody has a settled rating yet.")
    await page.get_by_role("button", name="Wins", exact=True).click()
    await expect(page.locator("#leaderboard tbody tr").first).to_have_text(
        re.compile(r"1\s*bob\s*2\s*4")
    )
    await page.locator("#leaderboard").get_by_role("link", name="carol").click()
    await expect(page.get_by_role("heading", name="carol", exact=True)).to_be_visible()
    await expect(page.get_by_role("img", name="carol's rating").locator("circle")).to_have_count(3)


async def test_a_player_without_a_rated_game_has_no_chart(
    start_hub: StartHub, pages: Pages
) -> None:
    server = await start_hub()
    page = await pages.open(hub_url(server))
    await sign_up(page, "alice")
    await page.get_by_role("link", name="My page").click()
    await expect(page.get_by_role("heading", name="alice", exact=True)).to_be_visible()
    await expect(page.locator("#history-empty")).to_have_text("No rated game yet.")
    await expect(page.locator("#rating-figure")).to_be_hidden()
    await expect(page.locator("#player-record")).to_have_text("0 games · 0 won · 0 lost · 0 drawn")
