"""Browser fixtures: Debian's Chromium driven by Playwright, scripted players, a cuttable proxy."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from websockets.asyncio.client import ClientConnection, connect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
HAVE_CHROMIUM = CHROMIUM.exists()
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
TIMEOUT = 10.0

expect.set_options(timeout=TIMEOUT * 1000)


def hub_url(server: TestServer, path: str = "/") -> str:
    """The http:// address of ``path`` on a running hub."""
    return str(server.make_url(path))


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless Debian Chromium; skipped only where it is not installed."""
    if not HAVE_CHROMIUM:
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


OpenPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def pages(browser: Browser) -> AsyncIterator[Any]:
    """Pages of the test, each failing it on a page error or a console error (``pagekit``)."""
    from tests.web.pagekit import watched_pages  # pagekit imports this module

    async with watched_pages(browser) as opened:
        yield opened


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[OpenPage]:
    """Open a URL in a fresh browser context (its own localStorage); JS errors fail the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_(url: str, width: int = 1100, height: int = 800) -> Page:
        context = await browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(url)
        return page

    yield open_
    for context in contexts:
        await context.close()
    assert errors == [], f"the page raised: {errors}"


def screenshot_path(name: str) -> Path:
    """Where a test saves a screenshot (``artifacts/`` is gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


async def register(server: TestServer, name: str) -> str:
    """Register a player over REST; returns its token."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(hub_url(server, "/api/players"), json={"name": name}) as res,
    ):
        assert res.status == 201, await res.text()
        body = await res.json()
    token: str = body["token"]
    return token


async def get_json(server: TestServer, path: str) -> Any:
    """GET a REST route that must answer 200."""
    async with aiohttp.ClientSession() as http, http.get(hub_url(server, path)) as res:
        assert res.status == 200, await res.text()
        return await res.json()


class Scripted:
    """A player the test drives over a raw WebSocket, reading frames in the background."""

    _ids = itertools.count(1)

    def __init__(self, name: str, ws: ClientConnection) -> None:
        self.name = name
        self.ws = ws
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def join(cls, server: TestServer, name: str) -> Scripted:
        """Register ``name``, connect and authenticate."""
        token = await register(server, name)
        ws = await connect(hub_url(server, "/ws").replace("http://", "ws://", 1))
        async with asyncio.timeout(TIMEOUT):
            welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome"
        player = cls(name, ws)
        await player.request("auth", token=token)
        return player

    async def _read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame["type"] == "reply" and frame["id"] in self.replies:
                self.replies.pop(frame["id"]).set_result(frame)
            elif frame["type"] == "event":
                self.events.put_nowait(frame)

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send a request that must succeed; returns its reply data."""
        rid = next(self._ids)
        reply = asyncio.get_running_loop().create_future()
        self.replies[rid] = reply
        await self.ws.send(json.dumps({"type": op, "id": rid, **fields}))
        async with asyncio.timeout(TIMEOUT):
            frame = await reply
        assert frame["ok"], frame
        data: dict[str, Any] = frame["data"]
        return data

    async def event(self, name: str) -> dict[str, Any]:
        """The data of the next event called ``name`` (earlier other events are skipped)."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                frame = await self.events.get()
                if frame["event"] == name:
                    data: dict[str, Any] = frame["data"]
                    return data

    async def close(self) -> None:
        """Close the connection and wait for the reader to finish."""
        await self.ws.close()
        await self.reader


Join = Callable[[TestServer, str], Awaitable[Scripted]]


@pytest.fixture
async def scripted() -> AsyncIterator[Join]:
    """Start scripted players; they disconnect at the end of the test."""
    players: list[Scripted] = []

    async def join(server: TestServer, name: str) -> Scripted:
        player = await Scripted.join(server, name)
        players.append(player)
        return player

    yield join
    for player in players:
        await player.close()


class Proxy:
    """A TCP relay in front of the hub whose connections the test can cut, to test reconnects."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.up = True
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """The lobby page through the proxy."""
        return f"http://127.0.0.1:{self.port}/"

    def cut(self) -> None:
        """Drop every relayed connection and refuse new ones until ``resume``."""
        self.up = False
        for writer in self.links:
            writer.transport.abort()

    def resume(self) -> None:
        """Relay new connections again."""
        self.up = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.links.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.links.difference_update((writer, up_writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        self.cut()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def proxy_to() -> AsyncIterator[Callable[[TestServer], Awaitable[Proxy]]]:
    """Put a cuttable proxy in front of a hub."""
    proxies: list[Proxy] = []

    async def start(server: TestServer) -> Proxy:
        assert server.port is not None
        proxy = Proxy(server.port)
        await proxy.start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        await proxy.close()
