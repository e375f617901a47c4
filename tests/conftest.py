"""Fixtures shared by every test package: a real hub on an ephemeral port and a real SQLite file."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.app import create_app
from hub.config import Config
from hub.loops import loop_factory

HubFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh SQLite file for the test."""
    return tmp_path / "hub.db"


@pytest.fixture
async def start_hub(
    aiohttp_server: Callable[..., Awaitable[TestServer]], db_path: Path
) -> AsyncIterator[HubFactory]:
    """Start a real hub (any Config field may be overridden); it stops at the end of the test."""

    async def start(**overrides: Any) -> TestServer:
        overrides.setdefault("db", str(db_path))
        overrides.setdefault("round_deadline", 0)
        overrides.setdefault("grace", 0.05)
        app: web.Application = create_app(Config(**overrides))
        return await aiohttp_server(app)

    yield start


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait (5 s at most) until ``check()`` is true, for state that no event announces."""
    async with asyncio.timeout(5):
        for delay in itertools.chain([0.0, 0.001, 0.005], itertools.repeat(0.01)):
            if await check():
                return
            await asyncio.sleep(delay)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every test runs on the event loop ``rps-hub serve`` would choose (uvloop when installed),
    or on the one ``RPS_HUB_LOOP`` names (``RPS_HUB_LOOP=asyncio pytest`` for asyncio's own)."""
    name = os.environ.get("RPS_HUB_LOOP", "auto").strip().lower()
    return {name: loop_factory(name)}
