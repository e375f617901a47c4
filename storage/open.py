"""``open_storage(url)``: the backend a ``--db`` value names, and the URL parsing of each backend.

The backends import the parsing from here; ``open_storage`` imports a backend only when a URL
names it, so neither backend (nor its driver) is loaded for the other.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from storage.base import StorageError

if TYPE_CHECKING:
    from storage.base import Storage

__all__ = [
    "COMMAND_TIMEOUT",
    "MEMORY",
    "SCHEMA_NAME",
    "command_timeout",
    "open_storage",
    "postgres_dsn",
    "redacted",
    "sqlite_path",
]

MEMORY = ":memory:"
POSTGRES_SCHEMES = ("postgresql", "postgres")
# Seconds a statement may run before it is cancelled and its unit fails as unavailable;
# a URL's ?command_timeout=S overrides it.
COMMAND_TIMEOUT = 10.0
SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# URL parameters that are ours, not asyncpg's (which would send unknown ones as server settings).
_OWN_PARAMETERS = ("schema", "command_timeout")


async def open_storage(url: str) -> Storage:
    """Open the backend a URL or path names: ``postgresql://…`` (or ``postgres://…``), else SQLite:
    ``sqlite:///rel.db``, ``sqlite:////abs.db``, a path.  Backends are imported only when used."""
    if url.lower().startswith(tuple(f"{scheme}://" for scheme in POSTGRES_SCHEMES)):
        from storage.postgres import PostgresStorage

        return await PostgresStorage.open(url)
    from storage.sqlite import SQLiteStorage

    return await SQLiteStorage.open(sqlite_path(url))


def sqlite_path(url: str) -> str:
    """The SQLite file a ``--db`` value names: a path, or a SQLAlchemy-style ``sqlite://`` URL."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    if scheme.lower() != "sqlite":
        raise StorageError(
            f"unknown database URL scheme {scheme!r}; give a file path, sqlite:///relative.db,"
            " sqlite:////absolute.db or postgresql://…"
        )
    # SQLAlchemy's form: sqlite://<host>/<path>, the host always empty; so the third slash ends
    # the (empty) host and a fourth one starts an absolute path.
    if rest in ("", "/", f"/{MEMORY}"):
        return MEMORY
    if not rest.startswith("/"):
        raise StorageError(
            f"database URL {url!r} names a host; write sqlite:///relative.db or"
            " sqlite:////absolute.db"
        )
    return rest[1:]


def postgres_dsn(url: str) -> tuple[str, str | None]:
    """The DSN to hand asyncpg and the schema a ``?schema=NAME`` parameter names (or None)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in POSTGRES_SCHEMES:
        raise StorageError(f"{redacted(url)} is not a postgresql:// URL")
    params = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for name, value in params if name == "schema"]
    if len(schemas) > 1:
        raise StorageError(f"database URL {redacted(url)} names more than one schema")
    schema = schemas[0] if schemas else None
    if schema is not None and not SCHEMA_NAME.fullmatch(schema):
        raise StorageError(
            f"database URL {redacted(url)}: schema {schema!r} must be letters, digits and _"
            " (not starting with a digit, 63 at most)"
        )
    # The other parameters go to asyncpg as they were written (it reads unknown ones as settings).
    base, _, query = url.partition("?")
    rest = [
        item
        for item in query.split("&")
        if item and unquote(item.split("=", 1)[0]) not in _OWN_PARAMETERS
    ]
    return base + ("?" + "&".join(rest) if rest else ""), schema


def command_timeout(url: str) -> float:
    """The seconds a statement may run: a ``?command_timeout=S`` of the URL, else the default."""
    values = [
        v
        for name, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
        if name == "command_timeout"
    ]
    if not values:
        return COMMAND_TIMEOUT
    problem = (
        f"database URL {redacted(url)}: command_timeout must be one positive number of seconds"
    )
    if len(values) > 1:
        raise StorageError(problem)
    try:
        seconds = float(values[0])
    except ValueError:
        raise StorageError(problem) from None
    if not 0 < seconds < float("inf"):
        raise StorageError(problem)
    return seconds


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))
