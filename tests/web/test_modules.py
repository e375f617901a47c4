"""The lobby page's script: ES modules that the browser loads natively from /static/ (issue 12)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Response, expect

from hub.app import STATIC
from tests.web.conftest import hub_url

pytestmark = pytest.mark.browser

StartHub = Callable[..., Awaitable[TestServer]]

# Browsers run a module script only when it is served with a JavaScript MIME type.
JAVASCRIPT = {"text/javascript", "application/javascript"}


async def test_the_page_loads_every_module_in_static_with_200_and_a_javascript_type(
    start_hub: StartHub, browser: Browser
) -> None:
    server = await start_hub()
    scripts: dict[str, tuple[int, str]] = {}

    def note(response: Response) -> None:
        if response.request.resource_type == "script":
            mime = response.headers.get("content-type", "").split(";")[0].strip()
            scripts[urlsplit(response.url).path] = (response.status, mime)

    context = await browser.new_context()
    try:
        page = await context.new_page()
        page.on("response", note)
        await page.goto(hub_url(server))  # "load" waits for the whole module graph
        shipped = sorted(f"/static/{path.name}" for path in STATIC.glob("*.js"))
        refused = {
            path: got for path, got in scripts.items() if got[0] != 200 or got[1] not in JAVASCRIPT
        }
        assert refused == {}
        assert sorted(scripts) == shipped
        # The entry module's init() shows the name form: every module was evaluated.
        await expect(page.locator("#name-form")).to_be_visible()
    finally:
        await context.close()
