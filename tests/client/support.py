"""Waiting on the client library in tests, and the clients and proxies a test opens."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestServer

from client import rest
from client.connection import Backoff, Event, HubClient
from tests.client.proxy import Proxy

ProxyFactory = Callable[[TestServer], Awaitable[Proxy]]

TIMEOUT = 10
FAST = Backoff(initial=0.02, cap=0.1)


def url_of(server: TestServer) -> str:
    return f"http://{server.host}:{server.port}"


async def until(client: HubClient, done: Callable[[Event], bool]) -> list[Event]:
    """Read the client's stream up to and including the first item for which ``done`` is true."""
    seen: list[Event] = []
    async with asyncio.timeout(TIMEOUT):
        while True:
            item = await client.next_event()
            seen.append(item)
            if done(item):
                return seen


def is_event(event: str, **data: Any) -> Callable[[Event], bool]:
    def match(item: Event) -> bool:
        return (
            item.get("type") == "event"
            and item.get("event") == event
            and all(item["data"].get(k) == v for k, v in data.items())
        )

    return match


def is_state(state: str) -> Callable[[Event], bool]:
    return lambda item: item.get("type") == "state" and item.get("state") == state


class Clients:
    """Clients opened by a test, closed at its end (before the hub stops)."""

    def __init__(self) -> None:
        self.opened: list[HubClient] = []

    async def player(
        self, url: str, name: str, via: str | None = None, **options: Any
    ) -> HubClient:
        _, token = await rest.register(url, name)
        client = await HubClient.connect(via or url, token=token, backoff=FAST, **options)
        self.opened.append(client)
        return client

    async def spectator(self, url: str) -> HubClient:
        client = await HubClient.connect(url, backoff=FAST)
        self.opened.append(client)
        return client
