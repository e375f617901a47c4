"""The PostgreSQL server the tests use, and a fresh schema on it for each test.

The server is ``RPS_HUB_TEST_POSTGRES`` (default: the local one that ``.ci/run`` starts).  When it
does not answer, the test fails saying so: a missing server must never pass as skipped tests.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

SERVER = os.environ.get("RPS_HUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


async def admin() -> asyncpg.Connection:
    """A plain connection to the test server; the test fails if the server does not answer."""
    try:
        return await asyncpg.connect(SERVER, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        problem = str(exc) or type(exc).__name__
    pytest.fail(
        f"PostgreSQL is not answering at {SERVER} ({problem}); start it with"
        " `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
        " or point RPS_HUB_TEST_POSTGRES at one",
        pytrace=False,
    )


def schema_url(schema: str) -> str:
    """The URL of the test server with ``?schema=`` set."""
    return f"{SERVER}{'&' if '?' in SERVER else '?'}schema={schema}"


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """A new, empty schema ``t_<random>`` on the test server, dropped afterwards; its name."""
    name = f"t_{secrets.token_hex(6)}"
    conn = await admin()
    try:
        await conn.execute(f'CREATE SCHEMA "{name}"')
        yield name
    finally:
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()


def schema_of(url: str) -> str:
    """The schema a URL made by ``schema_url`` names."""
    return parse_qs(urlsplit(url).query)["schema"][0]


async def connect_to(url: str) -> asyncpg.Connection:
    """A plain connection to the test server whose tables are those of ``url``'s schema."""
    return await asyncpg.connect(
        SERVER, timeout=10, server_settings={"search_path": schema_of(url)}
    )


async def lock_waited(db: asyncpg.Connection, table: str) -> bool:
    """Whether a session waits for a lock on ``table`` (of ``db``'s schema)."""
    waiting: bool = await db.fetchval(
        "SELECT count(*) > 0 FROM pg_locks WHERE relation = $1::regclass AND NOT granted", table
    )
    return waiting
