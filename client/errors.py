"""The client's exceptions."""

from __future__ import annotations


class ClientError(Exception):
    """An error reply from the hub, or a failure to reach it; ``code`` is a SPEC error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConnectionLost(ClientError):
    """The connection dropped before the hub answered a request."""

    def __init__(self, message: str = "the connection to the hub was lost") -> None:
        super().__init__("unavailable", message)
