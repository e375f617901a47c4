"""Fixtures of the hub tests: connections that are closed at the end of every test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import HubFactory
from tests.hub.wsclient import Clients


@pytest.fixture
async def clients(start_hub: HubFactory) -> AsyncIterator[Clients]:
    """Connections to the test's hubs, closed (before the hubs stop) at the end of the test."""
    opened = Clients()
    yield opened
    await opened.close()
