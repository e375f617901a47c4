"""The queue's pools on the lobby page (issue 11): who waits for which rules and best_of, in the
lobby and next to our own place in the queue, at 1280x800 and 390x844."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from tests.web.conftest import Join, hub_url
from tests.web.pagekit import DESKTOP, PHONE, Pages, assert_accessible, sign_up

pytestmark = pytest.mark.browser

StartHub = Callable[..., Awaitable[TestServer]]
SIZES = pytest.mark.parametrize(("size", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])


@SIZES
async def test_the_lobby_shows_who_waits_in_each_pool_of_the_queue(
    start_hub: StartHub, pages: Pages, scripted: Join, size: tuple[int, int], label: str
) -> None:
    server = await start_hub()
    dave = await scripted(server, "dave")
    page = await pages.open(hub_url(server), size=size)
    await sign_up(page, "alice")
    await dave.request("play", opponent="*", rules="rps3", best_of=3)
    pools = page.locator("#queue-pools")
    await expect(pools).to_have_text("In the queue: 1 waiting for rps3 best of 3.")
    await page.get_by_role("button", name="Join the queue").click()
    await expect(page.locator("#play-status")).to_contain_text(
        "Waiting in the queue for rps15 best of 5… (1 waiting for rps3 best of 3)"
    )
    await expect(pools).to_be_hidden()
    await assert_accessible(page, f"the queue's pools, {label}")
    await dave.request("cancel")
    await expect(page.locator("#play-status")).to_contain_text(
        re.compile(r"Waiting in the queue for rps15 best of 5… Leave the queue")
    )
