"""Fixtures of the client tests: library clients and proxies, closed at the end of every test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from tests.client.proxy import Proxy
from tests.client.support import Clients, ProxyFactory
from tests.conftest import HubFactory


@pytest.fixture
async def clients(start_hub: HubFactory) -> AsyncIterator[Clients]:
    opened = Clients()
    yield opened
    for client in opened.opened:
        await client.close()


@pytest.fixture
async def proxies() -> AsyncIterator[ProxyFactory]:
    made: list[Proxy] = []

    async def make(server: TestServer) -> Proxy:
        proxy = Proxy(str(server.host), int(server.port or 0))
        await proxy.start()
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        await proxy.close()
