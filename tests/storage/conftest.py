"""Fixtures for the storage contract suite: one ``storage`` per backend.

A backend here is a place that data lives (a SQLite file, later a PostgreSQL schema) and a way to
open a ``Storage`` on it, so a test can close a storage and open the same data again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Protocol

import pytest
from attrs import frozen

from storage.base import Storage
from storage.sqlite import SQLiteStorage

# Add "postgresql" here (and a backend class below) when that backend is built.
BACKENDS = ["sqlite"]


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


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A fresh, empty backend of each kind."""
    if request.param == "sqlite":
        return SQLiteBackend(tmp_path / "hub.db")
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
