"""Fixtures of the cluster tests that talk to a node over WebSockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.hub.wsclient import Clients


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    """WebSocket clients opened by a test, closed after it."""
    opened = Clients()
    yield opened
    await opened.close()
