"""What the lobby page's game tests share: pages watched for errors, keyboard moves, axe-core."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, expect

from tests.web.conftest import screenshot_path

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
DESKTOP = (1280, 800)
PHONE = (390, 844)
# rps15 in wheel order and the keys the page gives its rolls: 1-9 and 0, then a free letter.
RPS15 = [
    "Rock", "Gun", "Lightning", "Devil", "Dragon", "Water", "Air", "Paper",
    "Sponge", "Wolf", "Tree", "Human", "Snake", "Scissors", "Fire",
]  # fmt: skip
RPS15_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "T", "H", "S", "C", "F"]


def shot(name: str) -> Path:
    """Where a test saves the screenshot ``name``: ``artifacts/``, or ``docs/img/`` (the README's
    pictures) when the run sets RPS_HUB_DOCS_IMG=1, so an ordinary run changes no tracked file."""
    if os.environ.get("RPS_HUB_DOCS_IMG") == "1":
        DOCS_IMG.mkdir(exist_ok=True)
        return DOCS_IMG / name
    return screenshot_path(f"docs-{name}")


class Pages:
    """Opens pages in fresh browser contexts and keeps every error they report."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    async def open(self, url: str, size: tuple[int, int] = DESKTOP, still: bool = False) -> Page:
        """A page of ``url`` in a viewport of ``size`` (``still``: the user prefers reduced
        motion); uncaught errors and console errors count."""
        width, height = size
        context = await self.browser.new_context(
            viewport={"width": width, "height": height},
            reduced_motion="reduce" if still else "no-preference",
        )
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"page: {exc}"))
        page.on("console", self._console)
        await page.goto(url)
        return page

    async def close(self) -> None:
        """Close every context."""
        for context in self.contexts:
            await context.close()


@contextlib.asynccontextmanager
async def watched_pages(browser: Browser) -> AsyncIterator[Pages]:
    """Pages for one test; it fails if any of them logged an error or raised."""
    pages = Pages(browser)
    try:
        yield pages
    finally:
        await pages.close()
    assert pages.errors == [], f"the page reported errors: {pages.errors}"


async def focused(page: Page) -> str:
    """A short description of the element with the focus: its id, else its text."""
    found: str = await page.evaluate(
        "() => { const el = document.activeElement;"
        " return el ? (el.id || el.textContent.trim()) : ''; }"
    )
    return found


async def tab_to(page: Page, target: Locator, limit: int = 40) -> None:
    """Press Tab until ``target`` has the focus (as a keyboard user would)."""
    for _ in range(limit):
        if await target.evaluate("(el) => el === document.activeElement"):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}; the focus is on {await focused(page)!r}")


async def sign_up_by_keyboard(page: Page, name: str) -> None:
    """Pick a name with the keyboard alone and wait until the hub has authenticated it."""
    await tab_to(page, page.get_by_label("Your name"))
    await page.keyboard.type(name)
    await page.keyboard.press("Enter")
    await expect(page.locator("#whoami-name")).to_have_text(name)


async def sign_up(page: Page, name: str) -> None:
    """Pick a name on the page and wait until the hub has authenticated it."""
    await page.get_by_label("Your name").fill(name)
    await page.get_by_role("button", name="Join").click()
    await expect(page.locator("#whoami-name")).to_have_text(name)
    await expect(page.get_by_role("button", name="Play the computer")).to_be_visible()


def roll_button(page: Page, roll: str) -> Locator:
    """A roll's button on the wheel."""
    return page.locator(f"#rolls button[data-roll='{roll}']")


async def wait_for_turn(page: Page) -> bool:
    """Wait until the game is over (False) or a roll may be played (True)."""
    await expect(
        page.locator("#game-view[data-status='finished'], #rolls button:not([aria-disabled])").first
    ).to_be_visible()
    return await page.locator("#game-view").get_attribute("data-status") != "finished"


async def play_by_clicks(page: Page, roll: str) -> None:
    """Pick ``roll`` with a click, then play it with the Play button."""
    await roll_button(page, roll).click()
    await page.get_by_role("button", name=f"Play {roll}", exact=True).click()


async def play_to_the_end(page: Page, rolls: list[str], limit: int = 50) -> int:
    """Play the game on screen by clicks until it is over; returns the rounds played."""
    played = 0
    while await wait_for_turn(page):
        assert played < limit, f"a game ends by round {limit}"
        await play_by_clicks(page, rolls[played % len(rolls)])
        played += 1
        await expect(page.locator(f"#rounds tbody tr[data-round='{played}']")).to_be_visible()
    return played


async def settle(page: Page) -> None:
    """Wait until every animation on the page has finished (before a screenshot)."""
    await page.evaluate("() => Promise.all(document.getAnimations().map((a) => a.finished))")


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations axe-core finds on the page as it stands."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # evaluate() runs in the page without a script element, so the page's CSP allows it.
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    results: dict[str, Any] = await page.evaluate(
        "() => axe.run(document, { resultTypes: ['violations'] })"
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def assert_accessible(page: Page, where: str) -> None:
    """axe-core finds nothing serious or critical on the page."""
    found = await axe_violations(page)
    assert found == [], f"{where}: {json.dumps(found, indent=1)}"


async def in_view(locator: Locator) -> bool:
    """Whether the whole element is inside the viewport as it is scrolled now."""
    inside: bool = await locator.evaluate(
        """(el) => { const r = el.getBoundingClientRect();
            return r.width > 0 && r.top >= 0 && r.left >= 0
              && r.bottom <= window.innerHeight && r.right <= window.innerWidth; }"""
    )
    return inside
