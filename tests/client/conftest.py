"""Fixtures of the client tests: library clients and proxies, closed at the end of every test; a
hub process and the command-line clients driven in pseudo-terminals, stopped at the end of every
test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pexpect
import pytest
from aiohttp.test_utils import TestServer

from tests.client.proxy import Proxy
from tests.client.pty import HubProcess, stop
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


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def children() -> Iterator[list[pexpect.spawn]]:
    spawned: list[pexpect.spawn] = []
    yield spawned
    for child in spawned:
        stop(child)
