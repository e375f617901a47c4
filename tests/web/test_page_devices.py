"""One player in two browsers (issue 11): "Use on another device" shows a token of its own that a
second browser takes, and "Forget me" there revokes only that browser's token."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from tests.web.conftest import hub_url
from tests.web.pagekit import (
    DESKTOP,
    PHONE,
    Pages,
    assert_accessible,
    shot,
    sign_up,
)

pytestmark = pytest.mark.browser

StartHub = Callable[..., Awaitable[TestServer]]


async def token_works(server: TestServer, token: str) -> bool:
    """Whether the hub takes ``token`` (it answers POST /api/tokens with 201, else 401)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(hub_url(server, "/api/tokens"), headers=headers) as res,
    ):
        assert res.status in (201, 401), await res.text()
        return res.status == 201


@pytest.mark.parametrize(("size", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])
async def test_use_on_another_device_gives_a_token_that_a_second_browser_plays_with(
    start_hub: StartHub, pages: Pages, size: tuple[int, int], label: str
) -> None:
    server = await start_hub()
    first = await pages.open(hub_url(server), size=size)
    await sign_up(first, "alice")
    mine = await first.evaluate("localStorage.getItem('rps-hub.token')")

    await first.get_by_role("button", name="Use on another device").click()
    dialog = first.get_by_role("dialog", name="Use on another device")
    await expect(dialog).to_be_visible()
    token_box = dialog.get_by_label("Token")
    await expect(token_box).to_have_value(re.compile(r"^[A-Za-z0-9_-]{43}$"))
    token = await token_box.input_value()
    assert token != mine
    await assert_accessible(first, f"the token for another device, {label}")
    await first.screenshot(path=shot(f"device-{label}.png"))
    await dialog.get_by_role("button", name="Done").click()
    await expect(dialog).to_be_hidden()

    second = await pages.open(hub_url(server), size=size)
    await second.get_by_text("Already playing on another device?", exact=True).click()
    await second.get_by_label("Token from the other device").fill(token)
    await second.get_by_role("button", name="Use it").click()
    await expect(second.locator("#whoami-name")).to_have_text("alice")
    await expect(second.get_by_role("button", name="Play the computer")).to_be_visible()
    await assert_accessible(second, f"signed in with a token, {label}")

    # Forget me on the second browser ends its token, not the first one's.
    await second.get_by_role("button", name="Forget me on this browser").click()
    async with second.expect_navigation():
        await second.get_by_role("button", name="Forget me", exact=True).click()
    await expect(second.get_by_label("Your name")).to_be_visible()
    assert not await token_works(server, token)
    assert await token_works(server, mine)
    await first.reload()
    await expect(first.locator("#whoami-name")).to_have_text("alice")


async def test_a_token_the_hub_does_not_know_is_refused_with_a_reason(
    start_hub: StartHub, pages: Pages
) -> None:
    server = await start_hub()
    page = await pages.open(hub_url(server))
    await page.get_by_text("Already playing on another device?", exact=True).click()
    await page.get_by_label("Token from the other device").fill("x" * 43)
    await page.get_by_role("button", name="Use it").click()
    await expect(page.locator("#identity-error")).to_have_text(
        "That token is not one this hub knows; check it and try again."
    )
    await expect(page.get_by_label("Your name")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('rps-hub.token')") is None
