"""How many watch a live game, on the lobby page (issue 11), in a real Chromium: the game's own
view and the lobby's list of live games say it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect
from websockets.asyncio.client import connect

from tests.web.conftest import hub_url
from tests.web.pagekit import DESKTOP, Pages, sign_up

pytestmark = pytest.mark.browser

StartHub = Callable[..., Awaitable[TestServer]]


async def test_a_spectator_shows_on_the_game_and_in_the_lobbys_live_games(
    start_hub: StartHub, pages: Pages
) -> None:
    server = await start_hub(round_deadline=60, summary_interval=0)
    page = await pages.open(hub_url(server), size=DESKTOP)
    await sign_up(page, "alice")
    await page.get_by_role("button", name="Play the computer").click()
    await expect(page.get_by_role("heading", name="alice vs computer")).to_be_visible()
    game = page.url.rsplit("/", 1)[1]
    await expect(page.locator("#game-watching")).to_have_text("")  # alice's own view: a seat
    lobby = await pages.open(hub_url(server), size=DESKTOP)
    live = lobby.locator(f'#live-games li[data-game="{game}"]')
    await expect(live).to_be_visible()
    ws_url = hub_url(server, "/ws").replace("http://", "ws://", 1)
    async with connect(ws_url) as watcher:
        await watcher.recv()  # welcome
        await watcher.send(json.dumps({"type": "subscribe", "id": 1, "topic": f"game:{game}"}))
        await expect(page.locator("#game-watching")).to_have_text("1 watching")
        await expect(live).to_contain_text("1 watching")
    await expect(page.locator("#game-watching")).to_have_text("")
    await expect(live).not_to_contain_text("watching")
