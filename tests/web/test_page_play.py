"""The lobby page's game (issue 11): the wheel of rolls, by keyboard and by pointer, the reveal and
the result, on a desktop and on a phone, in a real Chromium against a real hub."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from tests.web.conftest import get_json, hub_url
from tests.web.pagekit import (
    DESKTOP,
    PHONE,
    RPS15,
    RPS15_KEYS,
    Pages,
    in_view,
    play_to_the_end,
    roll_button,
    settle,
    shot,
    sign_up,
    sign_up_by_keyboard,
    tab_to,
    wait_for_turn,
)

pytestmark = pytest.mark.browser

StartHub = Callable[..., Awaitable[TestServer]]
DASH = "\u2013"


async def start_computer_game(page: Page, best_of: str = "3", rules: str = "rps15") -> str:
    """Start a game against the computer with the pointer; returns its id."""
    await page.get_by_label("Best of").select_option(best_of)
    await page.get_by_label("Rules").select_option(rules)
    await page.get_by_role("button", name="Play the computer").click()
    await expect(page.get_by_role("heading", name=re.compile(r" vs computer$"))).to_be_visible()
    return page.url.rsplit("/", 1)[1]


async def time_left(page: Page) -> float:
    """The share of the round's time the timer bar shows as left."""
    await expect(page.locator("#timer")).to_be_visible()
    share = await page.locator("#timer").evaluate("(el) => el.style.getPropertyValue('--left')")
    return float(share)


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_whole_game_against_the_computer_by_keyboard_only(
    start_hub: StartHub, pages: Pages, size: tuple[int, int]
) -> None:
    server = await start_hub(round_deadline=60)
    page = await pages.open(hub_url(server), size=size)
    await sign_up_by_keyboard(page, "alice")
    await tab_to(page, page.get_by_label("Best of"))
    await page.keyboard.press("ArrowUp")  # 5 -> 3
    await expect(page.get_by_label("Best of")).to_have_value("3")
    await tab_to(page, page.get_by_role("button", name="Play the computer"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()
    game_id = page.url.rsplit("/", 1)[1]
    await expect(page.locator("#rolls button")).to_have_count(15)
    for roll, key in zip(RPS15, RPS15_KEYS, strict=True):  # every key is written on its roll
        await expect(roll_button(page, roll).locator("kbd")).to_have_text(key)
        await expect(roll_button(page, roll)).to_have_attribute("aria-keyshortcuts", key)

    played = 0
    while await wait_for_turn(page):
        assert played < 50, "a game ends by round 50"
        await expect(page.locator("#game-state")).to_contain_text(f"Round {played + 1} — ")
        assert 0 < await time_left(page) <= 1, "the bar shows the share of the round's time left"
        roll, key = RPS15[played % 15], RPS15_KEYS[played % 15]
        await page.keyboard.press(key)  # picks the roll: nothing is sent yet
        await expect(roll_button(page, roll)).to_be_focused()
        await expect(roll_button(page, roll)).to_have_attribute("aria-pressed", "true")
        await expect(page.get_by_role("button", name=f"Play {roll}", exact=True)).to_be_visible()
        await expect(page.locator("#rounds tbody tr")).to_have_count(played)
        await page.keyboard.press("Enter")  # confirms
        played += 1
        row = page.locator(f"#rounds tbody tr[data-round='{played}']")
        await expect(row.locator("td").nth(1)).to_have_text(roll)
        await expect(page.locator("#reveal [data-player='alice'] .reveal-roll")).to_have_text(roll)
        await expect(page.locator("#round-result")).to_contain_text(
            f"Round {played}: alice {roll}, computer "
        )

    game = await get_json(server, f"/api/games/{game_id}")
    assert (game["status"], len(game["rounds"])) == ("finished", played)
    # The focus was on the wheel, which is gone: it moves to the result.
    await expect(page.locator("#game-end")).to_be_focused()
    mine = "You won the game!" if game["winner"] == "alice" else "computer won the game."
    await expect(page.locator("#game-end-text")).to_have_text(mine)
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Rematch", exact=True)).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="New opponent")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Back to lobby", exact=True)).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#lobby-view")).to_be_visible()
    await expect(page.get_by_role("button", name="Play the computer")).to_be_visible()


async def test_a_roll_shows_what_it_beats_and_loses_to_before_it_is_played(
    start_hub: StartHub, pages: Pages
) -> None:
    server = await start_hub()
    page = await pages.open(hub_url(server))
    await sign_up(page, "alice")
    await start_computer_game(page)
    info = page.locator("#roll-info")

    await tab_to(page, roll_button(page, "Rock"))  # the wheel is one stop in the tab order
    await expect(info).to_contain_text(
        "Rock beats Sponge, Wolf, Tree, Human, Snake, Scissors, Fire."
    )
    await expect(info).to_contain_text(
        "Rock loses to Gun, Lightning, Devil, Dragon, Water, Air, Paper."
    )
    await expect(page.locator("#rolls .wins-over")).to_have_count(7)
    await expect(roll_button(page, "Scissors")).to_have_class(re.compile(r"\bwins-over\b"))
    await expect(roll_button(page, "Gun")).to_have_class(re.compile(r"\bloses-to\b"))

    await page.keyboard.press("ArrowRight")  # round the wheel
    await expect(roll_button(page, "Gun")).to_be_focused()
    await expect(info).to_contain_text("Gun beats Rock, Wolf, Tree, Human, Snake, Scissors, Fire.")
    await page.keyboard.press("ArrowLeft")
    await page.keyboard.press("ArrowLeft")
    await expect(roll_button(page, "Fire")).to_be_focused()
    await expect(info).to_contain_text(
        "Fire loses to Rock, Gun, Lightning, Devil, Dragon, Water, Air."
    )

    await roll_button(page, "Paper").hover()
    await expect(info).to_contain_text(
        "Paper beats Rock, Gun, Lightning, Devil, Dragon, Water, Air."
    )
    # Pointing, focusing and picking send nothing; only the confirmation does.
    await roll_button(page, "Paper").click()
    await expect(page.get_by_role("button", name="Play Paper", exact=True)).to_be_visible()
    await expect(page.locator("#move-title")).to_have_text("Your move for round 1")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("button", name="Play Paper", exact=True)).to_be_hidden()
    await expect(page.locator("#rounds tbody tr")).to_have_count(0)


async def test_rps3_is_a_small_wheel_played_by_the_rolls_initials(
    start_hub: StartHub, pages: Pages
) -> None:
    server = await start_hub()
    page = await pages.open(hub_url(server))
    await sign_up(page, "alice")
    await page.get_by_label("Rules").select_option("rps3")
    await expect(page.locator("#rules-preview li")).to_have_text(["Rock", "Paper", "Scissors"])
    await start_computer_game(page, best_of="1", rules="rps3")
    await expect(page.locator("#rolls")).to_have_class(re.compile(r"\bwheel-small\b"))
    await expect(page.locator("#rolls kbd")).to_have_text(["R", "P", "S"])
    await page.keyboard.press("s")
    info = page.locator("#roll-info")
    await expect(info).to_contain_text("Scissors beats Paper.")
    await expect(info).to_contain_text("Scissors loses to Rock.")
    await page.keyboard.press("Enter")
    await expect(page.locator("#reveal-why")).to_have_text(
        re.compile(r"^(Both played Scissors: a tie|Scissors beats Paper|Rock beats Scissors)\.$")
    )


async def test_on_a_phone_the_result_and_its_buttons_are_in_view_without_scrolling(
    start_hub: StartHub, pages: Pages
) -> None:
    server = await start_hub()
    page = await pages.open(hub_url(server), size=PHONE)
    await sign_up(page, "alexandra_the_great")
    await start_computer_game(page, best_of="1")
    wheel = await page.locator("#rolls").bounding_box()
    assert wheel is not None and wheel["x"] >= 0 and wheel["x"] + wheel["width"] <= PHONE[0]
    await play_to_the_end(page, ["Gun", "Water", "Scissors"])

    end = page.locator("#game-end")
    for part in (
        end,
        page.get_by_role("button", name="Rematch", exact=True),
        page.get_by_role("button", name="New opponent"),
        page.get_by_role("link", name="Back to lobby", exact=True),
    ):
        assert await in_view(part), f"{part} is in view"
    await page.evaluate("window.scrollTo(0, 0)")
    assert await in_view(end), "the result is in view at the top of the page"
    badge = page.locator(".seat.winner .badge")
    await expect(badge).to_have_text("Winner")
    lines = await badge.evaluate("(el) => el.getClientRects().length")
    assert lines == 1, "the winner badge is on one line"
    box = await badge.bounding_box()
    assert box is not None and box["height"] < 30, box
    sideways = await page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert sideways, "nothing scrolls sideways"
    await settle(page)
    await page.screenshot(path=shot("game-over-phone.png"))

    await page.get_by_role("button", name="New opponent").click()
    await expect(page.locator("#play-status")).to_contain_text("Waiting in the queue")
    await expect(page.get_by_role("button", name="Leave the queue")).to_be_visible()
    me = page.locator("#players li[data-player='alexandra_the_great']")
    await expect(me.locator(".status")).to_have_text("queued")
