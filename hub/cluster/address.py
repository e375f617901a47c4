"""The ``--broker`` URL: ``redis://host:port/db[?prefix=NAME]`` (``rediss://`` for TLS)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit, urlunsplit

from attrs import frozen

DEFAULT_PREFIX = "rps-hub"
PREFIX_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@frozen
class BrokerAddress:
    """Where the cluster's Redis is, and the prefix of this hub's keys there."""

    url: str  # the URL redis-py connects to (without ``prefix``)
    prefix: str


def parse_broker(text: str) -> BrokerAddress:
    """Parse a ``--broker`` URL; ``ValueError`` with a one-line reason when it is not one."""
    parts = urlsplit(text)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError(f"{text!r} is not a redis://host:port/db URL")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"{text!r} has a bad port") from None
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"{text!r}: the database must be a number (redis://host:port/0)")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"prefix"})
    if unknown:
        raise ValueError(f"{text!r}: unknown parameter {unknown[0]!r} (only prefix is known)")
    prefix = query.get("prefix", [DEFAULT_PREFIX])[-1]
    if not PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"{text!r}: prefix must be 1-64 characters of A-Z a-z 0-9 _ . -")
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return BrokerAddress(url, prefix)
