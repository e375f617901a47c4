"""axe-core finds nothing serious or critical on the lobby page, on a desktop and on a phone, in
the lobby, in a game being played and in a finished one (issue 11). The README's pictures of
the lobby page are taken here: `RPS_HUB_DOCS_IMG=1 pytest tests/web/test_page_axe.py
tests/web/test_page_play.py` writes them into docs/img/."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from tests.web.browserkit import challenge_accepted, play_round
from tests.web.conftest import Join, hub_url
from tests.web.pagekit import (
    DESKTOP,
    PHONE,
    Pages,
    assert_accessible,
    play_by_clicks,
    play_to_the_end,
    roll_button,
    settle,
    shot,
    sign_up,
)

pytestmark = pytest.mark.browser

StartHub = Callable[..., Awaitable[TestServer]]


@pytest.mark.parametrize(("size", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])
async def test_the_lobby_and_a_game_have_no_serious_accessibility_violation(
    start_hub: StartHub, pages: Pages, scripted: Join, size: tuple[int, int], label: str
) -> None:
    server = await start_hub(round_deadline=60)
    bob = await scripted(server, "bob")
    carol = await scripted(server, "carol")
    dave = await scripted(server, "dave")
    finished = await challenge_accepted(bob, carol, best_of=1)
    await play_round(finished, (bob, "Gun"), (carol, "Rock"), 1)
    live = await challenge_accepted(carol, dave, best_of=5)
    await play_round(live, (carol, "Paper"), (dave, "Rock"), 1)

    page = await pages.open(hub_url(server), size=size)
    await sign_up(page, "alice")
    await bob.request("play", opponent="alice", best_of=3)
    await expect(page.locator("#challenges li")).to_have_count(1)
    await expect(page.locator("#recent-games li")).to_have_count(1)
    await expect(page.locator("#live-games li")).to_have_count(1)
    await assert_accessible(page, f"lobby, {label}")
    await page.screenshot(path=shot(f"lobby-{label}.png"), full_page=True)

    await page.get_by_role("button", name="Decline the challenge from bob").click()
    await page.get_by_label("Best of").select_option("3")
    await page.get_by_role("button", name="Play the computer").click()
    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()
    await play_by_clicks(page, "Gun")  # best of 3: one round cannot end it
    await expect(page.locator("#reveal")).to_be_visible()
    await roll_button(page, "Water").click()
    await expect(page.get_by_role("button", name="Play Water", exact=True)).to_be_visible()
    await assert_accessible(page, f"a game, a roll picked, {label}")
    await settle(page)
    await page.screenshot(path=shot(f"game-{label}.png"), full_page=True)
    await play_to_the_end(page, ["Fire", "Human", "Water"])
    await assert_accessible(page, f"a finished game, {label}")

    await page.goto(hub_url(server, f"/#/game/{live}"))  # a spectator's view
    await expect(page.get_by_role("heading", name="carol vs dave")).to_be_visible()
    await expect(page.locator("#reveal")).to_be_visible()
    await assert_accessible(page, f"a game watched, {label}")


@pytest.mark.parametrize("still", [False, True])
async def test_the_reveal_turns_its_cards_only_for_those_who_accept_motion(
    start_hub: StartHub, pages: Pages, still: bool
) -> None:
    server = await start_hub()
    page = await pages.open(hub_url(server), still=still)
    await sign_up(page, "alice")
    await page.get_by_role("button", name="Play the computer").click()
    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()
    await play_by_clicks(page, "Gun")
    card = page.locator("#reveal .reveal-card[data-player='alice']")
    await expect(card).to_have_class(re.compile(r"\bfresh\b"))  # a round revealed on screen
    animation = await card.evaluate("(el) => getComputedStyle(el).animationName")
    assert animation == ("none" if still else "flip")
