"""The lobby page under its Content-Security-Policy in a real headless Chromium (issue 8)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from hub.guard import CSP
from tests.conftest import eventually
from tests.web.conftest import hub_url

pytestmark = pytest.mark.browser

StartHub = Callable[..., Awaitable[TestServer]]

# Every violation the page sees, as the DOM reports it, kept where the test can read it.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


class Watched:
    """A page, the CSP errors its console printed, and the violations its DOM reported."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", self._note)

    def _note(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    async def violations(self) -> list[str]:
        """Violations reported to the page so far."""
        found: list[str] = await self.page.evaluate("window.__violations")
        return found


@pytest.fixture
async def watched(browser: Browser) -> AsyncIterator[Callable[[str], Awaitable[Watched]]]:
    """Open a URL in a fresh context, recording CSP violations from the first byte."""
    contexts = []

    async def open_(url: str) -> Watched:
        context = await browser.new_context(viewport={"width": 1100, "height": 800})
        contexts.append(context)
        await context.add_init_script(RECORD_VIOLATIONS)
        watched = Watched(await context.new_page())
        response = await watched.page.goto(url)
        assert response is not None
        assert response.headers["content-security-policy"] == CSP
        return watched

    yield open_
    for context in contexts:
        await context.close()


async def test_the_page_registers_and_plays_a_round_without_a_csp_violation(
    start_hub: StartHub, watched: Callable[[str], Awaitable[Watched]]
) -> None:
    server = await start_hub()
    w = await watched(hub_url(server))
    page = w.page
    await page.get_by_label("Your name").fill("alice")
    await page.get_by_role("button", name="Join").click()
    await expect(page.locator("#whoami-name")).to_have_text("alice")
    await page.get_by_role("button", name="Play the computer").click()
    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()
    await page.locator("#rolls button[data-roll='Rock']").click()  # picks it
    await page.get_by_role("button", name="Play Rock", exact=True).click()
    await expect(page.locator("#rounds tbody tr[data-round='1']")).to_be_visible()
    await page.goto(hub_url(server))  # the lobby again: its REST reads and a new WebSocket
    await expect(page.locator("#whoami-name")).to_have_text("alice")
    await expect(page.locator("#live-games li")).to_have_count(1)
    assert (await w.violations(), w.console) == ([], [])


async def test_an_inline_script_on_the_page_is_refused_and_reported(
    start_hub: StartHub, watched: Callable[[str], Awaitable[Watched]]
) -> None:
    server = await start_hub()
    w = await watched(hub_url(server))
    await w.page.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.__ran = true";
          document.body.append(s);
        }"""
    )

    async def reported() -> bool:
        return bool(await w.violations()) and bool(w.console)

    await eventually(reported)
    assert await w.page.evaluate("window.__ran === undefined")
    assert [v.split()[0] for v in await w.violations()] == ["script-src-elem"]
