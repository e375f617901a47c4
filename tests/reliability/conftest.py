"""Fixtures of the reliability tests: hub processes that never outlive their test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.reliability.harness import Hubs


@pytest.fixture
async def hubs(tmp_path: Path) -> AsyncIterator[Hubs]:
    """Start ``python -m hub serve`` processes in ``tmp_path``; all are killed after the test."""
    started = Hubs(tmp_path)
    yield started
    await started.close()
