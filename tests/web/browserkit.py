"""What the browser tests share: signing up on the page, scripted games, the round table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from tests.web.conftest import Scripted

StartHub = Callable[..., Awaitable[TestServer]]

DASH = "\u2013"  # the page writes scores with an en dash
# rps15: roll i beats roll j when (i - j) mod 15 is in 1..7, so Gun (1) beats Rock (0).
WINNER, LOSER = "Gun", "Rock"


async def sign_up(page: Page, name: str) -> None:
    """Pick a name on the page and wait until the hub has authenticated it."""
    await page.get_by_label("Your name").fill(name)
    await page.get_by_role("button", name="Join").click()
    await expect(page.locator("#whoami-name")).to_have_text(name)
    await expect(page.get_by_role("button", name="Play the computer")).to_be_visible()


async def challenge_accepted(a: Scripted, b: Scripted, best_of: int = 3) -> str:
    """``a`` challenges ``b``, who accepts; returns the game id."""
    offer = await a.request("play", opponent=b.name, best_of=best_of)
    challenge = await b.event("challenge")
    assert challenge["id"] == offer["challenge"]
    accepted = await b.request("accept", challenge=challenge["id"])
    game_id: str = accepted["game"]
    return game_id


async def play_round(
    game_id: str, first: tuple[Scripted, str], second: tuple[Scripted, str], n: int
) -> None:
    """Both seats move in round ``n``; the round is resolved when the second move is answered."""
    for player, roll in (first, second):
        await player.request("move", game=game_id, roll=roll, round=n)


async def fits_sideways(page: Page) -> bool:
    """Whether the page and its round table fit the viewport's width."""
    return bool(
        await page.evaluate(
            """() => [document.documentElement, document.querySelector('.table-wrap')]
                .every((el) => el.scrollWidth <= el.clientWidth)"""
        )
    )


def round_row(page: Page, n: int) -> Any:
    """The row of round ``n`` in the game view's table."""
    return page.locator(f"#rounds tbody tr[data-round='{n}']")
