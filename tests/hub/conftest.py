"""Fixtures of the hub tests: connections closed at the end of every test, HTTP and REST clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.conftest import HubFactory
from tests.hub.restclient import Rest, session
from tests.hub.wsclient import Clients


@pytest.fixture
async def clients(start_hub: HubFactory) -> AsyncIterator[Clients]:
    """Connections to the test's hubs, closed (before the hubs stop) at the end of the test."""
    opened = Clients()
    yield opened
    await opened.close()


@pytest.fixture
async def rest(start_hub: HubFactory) -> AsyncIterator[Rest]:
    """A running hub and a client for it."""
    server = await start_hub()
    async with session() as s:
        yield Rest(s, server)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session, closed at the end of the test."""
    async with session() as s:
        yield s
