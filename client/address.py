"""Hub addresses: the one ``--server`` string becomes a WebSocket URL and an HTTP base URL."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from client.errors import ClientError

DEFAULT_SERVER = "http://127.0.0.1:8080"

_WS_SCHEME = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_HTTP_SCHEME = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def _split(server: str) -> tuple[str, str, str]:
    text = server.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _WS_SCHEME or not parts.hostname:
        raise ClientError(
            "bad_request",
            f"server address {server!r} is not usable; give it as http://host:port or ws://host:port/ws",
        )
    try:
        parts.port  # noqa: B018 - urlsplit validates the port lazily
    except ValueError:
        raise ClientError(
            "bad_request", f"server address {server!r} has a bad port; give it as http://host:port"
        ) from None
    path = parts.path.rstrip("/")
    if scheme in ("ws", "wss") and path.endswith("/ws"):
        path = path[: -len("/ws")]
    return scheme, parts.netloc, path


def ws_url(server: str) -> str:
    """The hub's WebSocket endpoint for ``http://host:port`` or ``ws://host:port/ws``."""
    scheme, netloc, path = _split(server)
    return urlunsplit((_WS_SCHEME[scheme], netloc, path + "/ws", "", ""))


def http_url(server: str) -> str:
    """The hub's HTTP base (no trailing slash) for ``http://host:port`` or ``ws://host:port/ws``."""
    scheme, netloc, path = _split(server)
    return urlunsplit((_HTTP_SCHEME[scheme], netloc, path, "", ""))
