"""The client's exceptions."""

from __future__ import annotations

import socket


class ClientError(Exception):
    """An error reply from the hub, or a failure to reach it; ``code`` is a protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConnectionLost(ClientError):
    """The connection dropped before the hub answered a request."""

    def __init__(self, message: str = "the connection to the hub was lost") -> None:
        super().__init__("unavailable", message)


def describe(exc: BaseException) -> str:
    """A short, lowercase account of why a connection attempt failed."""
    cause: BaseException = exc
    os_error = getattr(exc, "os_error", None)  # aiohttp wraps the OSError
    if isinstance(os_error, OSError):
        cause = os_error
    if isinstance(cause, TimeoutError):
        return "timed out"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused (is the hub running there?)"
    if isinstance(cause, socket.gaierror):
        return "unknown host"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return str(cause) or type(cause).__name__
