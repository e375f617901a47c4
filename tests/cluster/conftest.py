"""Fixtures of the cluster tests that talk to a node over WebSockets."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from hub.app import create_app
from hub.config import Config
from tests.cluster.redisserver import RedisServer
from tests.hub.wsclient import Clients
from tests.postgres import fresh_schema, schema_url


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    """WebSocket clients opened by a test, closed after it."""
    opened = Clients()
    yield opened
    await opened.close()


@pytest.fixture(scope="module")
def node_redis() -> Iterator[RedisServer]:
    """A private ``redis-server`` for the nodes of a test module."""
    with RedisServer() as running:
        yield running


@pytest.fixture
async def node(
    aiohttp_server: Callable[..., Awaitable[TestServer]], node_redis: RedisServer, tmp_path: Path
) -> AsyncIterator[TestServer]:
    """A cluster node in the test's process, on a fresh PostgreSQL schema and its own prefix in
    the module's Redis; no round deadlines, a 5-s grace."""
    async with fresh_schema() as schema:
        broker = f"{node_redis.url}?prefix=n{secrets.token_hex(4)}"
        config = Config(round_deadline=0.0, grace=5.0, db=schema_url(schema), broker=broker)
        running = await aiohttp_server(create_app(config))
        yield running
        await running.close()
