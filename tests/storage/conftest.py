"""Fixtures for the storage contract suite: one ``storage`` per backend.

A backend here is a place that data lives (a SQLite file, a fresh PostgreSQL schema) and a way to
open a ``Storage`` on it, so a test can close a storage and open the same data again.  The
PostgreSQL tests need the real server (``tests/postgres.py``) and fail when it does not answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Protocol

import asyncpg
import pytest
from attrs import frozen

from storage.base import Storage
from storage.postgres import PostgresStorage
from storage.sqlite import SQLiteStorage
from tests.postgres import admin, fresh_schema, schema_url

BACKENDS = ["sqlite", "postgres"]


class Backend(Protocol):
    """A place that stored data lives, which can be opened again and again."""

    async def open(self) -> Storage:
        """A new storage on this backend's data."""
        ...


@frozen
class SQLiteBackend:
    """A real SQLite file."""

    path: Path

    async def open(self) -> Storage:
        """Open the file (creating it the first time)."""
        return await SQLiteStorage.open(str(self.path))


@frozen
class PostgresBackend:
    """A schema of its own on the real PostgreSQL server."""

    url: str

    async def open(self) -> Storage:
        """Open the schema (migrating it the first time)."""
        return await PostgresStorage.open(self.url)


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A fresh, empty backend of each kind (a PostgreSQL schema is dropped afterwards)."""
    if request.param == "sqlite":
        yield SQLiteBackend(tmp_path / "hub.db")
    elif request.param == "postgres":
        async with fresh_schema() as schema:
            yield PostgresBackend(schema_url(schema))
    else:
        raise AssertionError(f"no fixture for backend {request.param}")


@pytest.fixture
async def storage(backend: Backend) -> AsyncIterator[Storage]:
    """An open storage on a fresh backend, closed after the test."""
    opened = await backend.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def reopen(backend: Backend) -> Callable[[], Awaitable[Storage]]:
    """Opens another storage on the same data as ``storage`` (the caller closes it)."""
    return backend.open


@pytest.fixture
async def other(reopen: Callable[[], Awaitable[Storage]]) -> AsyncIterator[Storage]:
    """A second store on the same data: another node of the hub."""
    opened = await reopen()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    """A fresh, empty schema of the PostgreSQL test server (for the tests of that backend)."""
    async with fresh_schema() as name:
        yield name


@pytest.fixture
async def db() -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test server, to look behind the storage's back."""
    conn = await admin()
    try:
        yield conn
    finally:
        await conn.close()
